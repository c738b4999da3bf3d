"""Answers: submit, undo, and the task's verdict recomputed under the task's row lock.

Submitting is half of the API cycle, so its statements are written in SQL like the leasing
path's (services/assignment.py says why); the rules are the same as ever.
"""

from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, transaction
from django.utils import timezone

from annotator.conf import annotation_config
from annotator.errors import AlreadyAnswered, InvalidAnswer, LeaseExpired, NotYourAssignment, WorkerPaused
from annotator.models import Answer, Assignment, Task, TaskKind, TopicChoice
from annotator.services.assignment import PAUSED, aware, db_time, for_update, from_row, profile_lock, sql
from curation.models import Frame
from ml.vocabulary import DISAGREEMENT, PENDING

_TASK_FIELDS = [
    "id", "dataset_id", "video_id", "kind", "topic_id", "needed", "answered", "priority", "is_gold",
    "gold_answer", "escalated", "verdict", "truth_frame_id", "verdict_frame_id", "agreement",
]  # fmt: skip
# The worker's profile, the slot and its task are locked together, in that order (as everywhere
# else: profile first, then slot, then task); the profile says whether the worker is paused and
# whether their answers count.
_OWN_SLOT = f"""
    SELECT p.is_paused, p.answers_excluded, a.state, a.lease_expires_at,
           {", ".join(f"t.{name}" for name in _TASK_FIELDS)}
    FROM annotator_annotatorprofile p
    JOIN annotator_assignment a ON a.worker_id = p.user_id
    JOIN annotator_task t ON t.id = a.task_id
    WHERE p.user_id = %s AND a.id = %s
    {{lock}}
"""
_ANSWER_FIELDS = [
    "task_id", "assignment_id", "worker_id", "choice", "frame_id", "is_gold", "correct", "seconds",
    "created_at",
]  # fmt: skip
_INSERT_ANSWER = f"""
    INSERT INTO annotator_answer ({", ".join(_ANSWER_FIELDS)})
    VALUES ({", ".join(["%s"] * len(_ANSWER_FIELDS))})
    RETURNING id
"""
_ANSWERED = "UPDATE annotator_assignment SET state = %s WHERE id = %s"
# The answer is stored, its slot marked answered, and the task's earlier answers read back, in
# one statement: first (new answer's id, None, None, None), then (None, choice, frame, excluded)
# for each earlier answer, oldest first. The new answer is not among them (a sibling
# sub-statement cannot see it); the caller adds it last.
_STORE_ANSWER = f"""
    WITH answered AS ({_ANSWERED}), new AS ({_INSERT_ANSWER})
    SELECT new_id, choice, frame_id, excluded FROM (
        SELECT new.id AS new_id, NULL::bigint AS answer_id, NULL::text AS choice, NULL::bigint AS frame_id,
               NULL::boolean AS excluded
        FROM new
        UNION ALL
        SELECT NULL, x.id, x.choice, x.frame_id, p.answers_excluded IS TRUE FROM annotator_answer x
        LEFT JOIN annotator_annotatorprofile p ON p.user_id = x.worker_id
        WHERE x.task_id = %s
    ) AS rows
    ORDER BY answer_id NULLS FIRST
"""
# Every answer of a task, whether it counts (workers whose answers are excluded do not).
_TASK_ANSWERS = """
    SELECT x.choice, x.frame_id, p.answers_excluded IS TRUE FROM annotator_answer x
    LEFT JOIN annotator_annotatorprofile p ON p.user_id = x.worker_id
    WHERE x.task_id = %s
    ORDER BY x.id
"""
_STORE_TASK = """
    UPDATE annotator_task SET answered = %s, verdict = %s, verdict_frame_id = %s, agreement = %s,
        needed = %s, escalated = %s, updated_at = %s
    WHERE id = %s
"""


def _own_assignment(worker, assignment_id: int) -> tuple[Assignment, bool]:
    """The worker's slot, its task loaded with it, all three rows locked; and whether the worker's
    answers are excluded. Refuses a paused worker and a slot that is not theirs."""
    statement = _OWN_SLOT.format(lock=for_update("FOR UPDATE OF p, a, t"))
    row = sql(statement, [worker.pk, assignment_id], fetch="one")
    if row is None:
        profile_lock(worker=worker)  # a paused worker is told so (a first profile is made)
        # Someone else's slot and a slot that does not exist look the same: nothing leaks.
        raise NotYourAssignment(f"Assignment {assignment_id} is not leased to you.")
    paused, excluded, state, expires, *task_row = row
    if paused:
        raise WorkerPaused(PAUSED)
    task = from_row(Task, _TASK_FIELDS, task_row)
    fields = {"id": assignment_id, "state": state, "worker_id": worker.pk, "lease_expires_at": aware(expires)}
    fields |= {name: getattr(task, name) for name in ("dataset_id", "kind", "priority", "is_gold")}
    assignment = from_row(Assignment, list(fields), list(fields.values()))
    assignment.task, assignment.worker = task, worker
    return assignment, bool(excluded)


def _validated(task: Task, choice: str | None, frame_id: int | None) -> tuple[str, int | None]:
    if task.kind == TaskKind.TOPIC:
        if frame_id is not None or choice not in TopicChoice.values:
            raise InvalidAnswer(
                f"{choice!r} is not an answer to this task; answer one of: {', '.join(TopicChoice.values)}."
            )
        return choice, None
    if choice:
        raise InvalidAnswer("A thumbnail task is answered with a frame, not a choice.")
    if (
        frame_id is None
        or not Frame.objects.filter(id=frame_id, video_id=task.video_id, is_candidate=True).exists()
    ):
        raise InvalidAnswer(f"Frame {frame_id} is not one of this video's candidate frames.")
    return "", frame_id


@transaction.atomic
def answer_submit(
    *,
    worker: AbstractBaseUser,
    assignment_id: int,
    choice: str | None = None,
    frame_id: int | None = None,
    seconds: float | None = None,
) -> Answer:
    """Store the worker's answer to a slot they hold; refuses (storing nothing) a slot not
    leased to them, an expired lease, a second answer, a choice outside the task's choices
    and a frame that is not a candidate."""
    assignment, excluded = _own_assignment(worker, assignment_id)
    if assignment.state == Assignment.State.ANSWERED:
        raise AlreadyAnswered(f"You have already answered assignment {assignment_id}.")
    now = timezone.now()
    if assignment.lease_expires_at <= now:
        raise LeaseExpired(
            f"Your lease on assignment {assignment_id} has expired; the task went back to the pool."
        )
    task = assignment.task
    choice, frame_id = _validated(task, choice, frame_id)
    correct = None
    if task.is_gold:
        correct = (choice or str(frame_id)) == task.gold_answer
    values = [task.id, assignment.id, worker.pk, choice, frame_id, task.is_gold, correct, seconds, now]
    answer_id, earlier = _store_answer(assignment.id, [*values[:-1], db_time(now)])
    # An excluded worker's answer does not count: the task needs a slot for someone else's.
    _task_settle(task=task, answers=[*earlier, (choice, frame_id, excluded)], check_slots=excluded)
    answer = from_row(Answer, ["id", *_ANSWER_FIELDS], [answer_id, *values])
    answer.task, answer.worker = task, worker
    return answer


def _store_answer(assignment_id: int, values: list) -> tuple[int, list[tuple]]:
    """Store an answer (`values` in _ANSWER_FIELDS' order) and mark its slot answered; returns the
    answer's id and the task's earlier answers. One statement on PostgreSQL; SQLite has no
    data-modifying WITH and takes three."""
    if connection.vendor == "postgresql":
        (answer_id, *_), *earlier = sql(
            _STORE_ANSWER, [Assignment.State.ANSWERED, assignment_id, *values, values[0]]
        )
        return answer_id, [tuple(row[1:]) for row in earlier]
    earlier = sql(_TASK_ANSWERS, [values[0]])
    sql(_ANSWERED, [Assignment.State.ANSWERED, assignment_id], fetch=None)
    (answer_id,) = sql(_INSERT_ANSWER, values, fetch="one")
    return answer_id, earlier


@transaction.atomic
def answer_undo(*, worker: AbstractBaseUser, assignment_id: int) -> Assignment:
    """Take back an answer while its lease holds; the slot stays leased to the worker."""
    assignment, _ = _own_assignment(worker, assignment_id)
    if assignment.state != Assignment.State.ANSWERED:
        raise InvalidAnswer(f"Assignment {assignment_id} has no answer to undo.")
    if assignment.lease_expires_at <= timezone.now():
        raise LeaseExpired(f"The lease on assignment {assignment_id} has expired; its answer is final.")
    task = assignment.task
    Answer.objects.filter(assignment_id=assignment.id).delete()
    Assignment.objects.filter(id=assignment.id).update(state=Assignment.State.OPEN)
    assignment.state = Assignment.State.OPEN
    task_recompute(task=task, check_slots=False)
    return assignment


def task_recompute(*, task: Task, check_slots: bool = True) -> Task:
    """Count the answers that count (excluded workers' do not), set the verdict once enough
    are in, and open slots when the task needs more answers than it has slots for (a
    submit or undo cannot change that, so they skip the count: `check_slots=False`).
    The caller holds the task's row lock."""
    return _task_settle(task=task, answers=sql(_TASK_ANSWERS, [task.id]), check_slots=check_slots)


def _task_settle(*, task: Task, answers: list[tuple], check_slots: bool) -> Task:
    """task_recompute from the task's answers as (choice, frame id, excluded), oldest first."""
    # Imported here: ml.verdicts brings numpy, which every command would load with the admin.
    from ml.verdicts import thumbnail_verdict, topic_verdict

    if task.is_gold:  # every answer is scored against the known answer, which is the verdict
        task.answered = len(answers)
        if task.kind == TaskKind.TOPIC:
            task.verdict, _ = topic_verdict([c for c, _, _ in answers], required=0, gold=task.gold_answer)
        sql(
            "UPDATE annotator_task SET answered = %s, verdict = %s, updated_at = %s WHERE id = %s",
            [task.answered, task.verdict, db_time(timezone.now()), task.id],
            fetch=None,
        )
        return task
    answers = [(choice, frame) for choice, frame, excluded in answers if not excluded]
    task.answered = len(answers)
    task.verdict_frame_id = None
    # ml.verdicts decides, as it does for the aggregation run: pending below the task's overlap.
    if task.kind == TaskKind.TOPIC:
        task.verdict, task.agreement = topic_verdict([choice for choice, _ in answers], required=task.needed)
        if task.verdict == DISAGREEMENT and not task.escalated:
            if annotation_config(task.dataset).third_opinion:
                task.needed += 1
                task.escalated = True
                task.verdict, task.agreement = PENDING, None
                check_slots = True
    else:
        task.verdict, task.verdict_frame_id, task.agreement = thumbnail_verdict(
            [frame for _, frame in answers], task.truth_frame_id, required=task.needed
        )
    missing = 0
    if check_slots:
        open_slots = task.assignments.filter(state=Assignment.State.OPEN).count()
        missing = task.needed - task.answered - open_slots
    if missing > 0:
        Assignment.objects.bulk_create(
            Assignment(task=task, dataset_id=task.dataset_id, kind=task.kind, priority=task.priority)
            for _ in range(missing)
        )
    elif missing < 0:  # answers count again (a worker included again): drop surplus free slots
        surplus = task.assignments.filter(state=Assignment.State.OPEN, worker__isnull=True)[:-missing]
        Assignment.objects.filter(id__in=list(surplus.values_list("id", flat=True))).delete()
    task.updated_at = timezone.now()
    values = [task.answered, task.verdict, task.verdict_frame_id, task.agreement, task.needed, task.escalated]
    sql(_STORE_TASK, [*values, db_time(task.updated_at), task.id], fetch=None)
    return task

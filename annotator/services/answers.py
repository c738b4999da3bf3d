"""Answers: submit, undo, and the task's verdict recomputed under the task's row lock.

Submitting is half of the API cycle, so its statements are written in SQL like the leasing
path's (services/assignment.py says why); the rules are the same as ever.
"""

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from annotator.conf import annotation_config
from annotator.errors import AlreadyAnswered, InvalidAnswer, LeaseExpired, NotYourAssignment
from annotator.models import Answer, Assignment, Task, TaskKind, TopicChoice
from annotator.services.assignment import aware, db_time, for_update, from_row, profile_lock, sql
from annotator.verdicts import thumbnail_verdict, topic_verdict
from curation.models import Frame

_TASK_FIELDS = [
    "id", "dataset_id", "video_id", "kind", "topic_id", "needed", "answered", "priority", "is_gold",
    "gold_answer", "escalated", "verdict", "truth_frame_id", "verdict_frame_id", "agreement",
]  # fmt: skip
# The slot and its task are locked together: slot first, then task, as everywhere else.
_OWN_SLOT = f"""
    SELECT a.state, a.lease_expires_at, {", ".join(f"t.{name}" for name in _TASK_FIELDS)}
    FROM annotator_assignment a JOIN annotator_task t ON t.id = a.task_id
    WHERE a.id = %s AND a.worker_id = %s
    {{lock}}
"""
_ANSWER_FIELDS = [
    "task_id", "assignment_id", "worker_id", "choice", "frame_id", "is_gold", "correct", "seconds",
    "created_at",
]  # fmt: skip
_STORE_ANSWER = f"""
    INSERT INTO annotator_answer ({", ".join(_ANSWER_FIELDS)})
    VALUES ({", ".join(["%s"] * len(_ANSWER_FIELDS))})
    RETURNING id
"""
_ANSWERED = "UPDATE annotator_assignment SET state = %s WHERE id = %s"
# Answers of workers whose answers are excluded do not count.
_COUNTING_ANSWERS = """
    SELECT x.choice, x.frame_id FROM annotator_answer x
    LEFT JOIN annotator_annotatorprofile p ON p.user_id = x.worker_id
    WHERE x.task_id = %s AND p.answers_excluded IS NOT TRUE
    ORDER BY x.id
"""
_STORE_TASK = """
    UPDATE annotator_task SET answered = %s, verdict = %s, verdict_frame_id = %s, agreement = %s,
        needed = %s, escalated = %s, updated_at = %s
    WHERE id = %s
"""


def _own_assignment(worker, assignment_id: int) -> Assignment:
    statement = _OWN_SLOT.format(lock=for_update("FOR UPDATE OF a, t"))
    row = sql(statement, [assignment_id, worker.pk], fetch="one")
    if row is None:
        # Someone else's slot and a slot that does not exist look the same: nothing leaks.
        raise NotYourAssignment(f"Assignment {assignment_id} is not leased to you.")
    state, expires, *task_row = row
    task = from_row(Task, _TASK_FIELDS, task_row)
    fields = {"id": assignment_id, "state": state, "worker_id": worker.pk, "lease_expires_at": aware(expires)}
    fields |= {name: getattr(task, name) for name in ("dataset_id", "kind", "priority", "is_gold")}
    assignment = from_row(Assignment, list(fields), list(fields.values()))
    assignment.task, assignment.worker = task, worker
    return assignment


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
    profile_lock(worker=worker)
    assignment = _own_assignment(worker, assignment_id)
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
    sql(_ANSWERED, [Assignment.State.ANSWERED, assignment.id], fetch=None)
    (answer_id,) = sql(_STORE_ANSWER, [*values[:-1], db_time(now)], fetch="one")
    task_recompute(task=task, check_slots=False)
    answer = from_row(Answer, ["id", *_ANSWER_FIELDS], [answer_id, *values])
    answer.task, answer.worker = task, worker
    return answer


@transaction.atomic
def answer_undo(*, worker: AbstractBaseUser, assignment_id: int) -> Assignment:
    """Take back an answer while its lease holds; the slot stays leased to the worker."""
    profile_lock(worker=worker)
    assignment = _own_assignment(worker, assignment_id)
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
    if task.is_gold:
        (task.answered,) = sql(
            "SELECT count(*) FROM annotator_answer WHERE task_id = %s", [task.id], fetch="one"
        )
        sql(
            "UPDATE annotator_task SET answered = %s, updated_at = %s WHERE id = %s",
            [task.answered, db_time(timezone.now()), task.id],
            fetch=None,
        )
        return task
    answers = sql(_COUNTING_ANSWERS, [task.id])
    task.answered = len(answers)
    task.verdict, task.verdict_frame_id, task.agreement = "pending", None, None
    if task.answered >= task.needed:
        if task.kind == TaskKind.TOPIC:
            task.verdict, task.agreement = topic_verdict([choice for choice, _ in answers])
            if task.verdict == "disagreement" and not task.escalated:
                if annotation_config(task.dataset).third_opinion:
                    task.needed += 1
                    task.escalated = True
                    task.verdict = "pending"
                    check_slots = True
        else:
            task.verdict, task.verdict_frame_id, task.agreement = thumbnail_verdict(
                [frame for _, frame in answers], task.truth_frame_id
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

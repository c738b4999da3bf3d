"""Answers: submit, undo, and the task's verdict recomputed under the task's row lock.

Submitting is half of the API cycle, so its statements are written in SQL, in
annotator/queries/ (which says why); the rules are here.
"""

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from annotator.conf import annotation_config
from annotator.errors import AlreadyAnswered, InvalidAnswer, LeaseExpired, NotYourAssignment, WorkerPaused
from annotator.models import Answer, Assignment, Task, TaskKind, TopicChoice
from annotator.queries.answers import answer_store, own_slot_lock, task_store, task_votes
from annotator.services.assignment import PAUSED, profile_lock
from curation.models import Frame
from ml.vocabulary import DISAGREEMENT, PENDING


def _own_assignment(worker, assignment_id: int) -> tuple[Assignment, bool]:
    """The worker's slot, its task loaded with it, all three rows locked; and whether the worker's
    answers are excluded. Refuses a paused worker and a slot that is not theirs."""
    own = own_slot_lock(worker=worker, assignment_id=assignment_id)
    if own is None:
        profile_lock(worker=worker)  # a paused worker is told so (a first profile is made)
        # Someone else's slot and a slot that does not exist look the same: nothing leaks.
        raise NotYourAssignment(f"Assignment {assignment_id} is not leased to you.")
    if own.paused:
        raise WorkerPaused(PAUSED)
    return own.assignment, own.excluded


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
    stored = answer_store(
        assignment=assignment, choice=choice, frame_id=frame_id, correct=correct, seconds=seconds, now=now
    )
    # An excluded worker's answer does not count: the task needs a slot for someone else's.
    _task_settle(task=task, answers=[*stored.earlier, (choice, frame_id, excluded)], check_slots=excluded)
    return stored.answer


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
    return _task_settle(task=task, answers=task_votes(task_id=task.id), check_slots=check_slots)


def _task_settle(*, task: Task, answers: list[tuple], check_slots: bool) -> Task:
    """task_recompute from the task's answers as (choice, frame id, excluded), oldest first."""
    # Imported here: ml.verdicts brings numpy, which every command would load with the admin.
    from ml.verdicts import thumbnail_verdict, topic_verdict

    if task.is_gold:  # every answer is scored against the known answer, which is the verdict
        task.answered = len(answers)
        if task.kind == TaskKind.TOPIC:
            task.verdict, _ = topic_verdict([c for c, _, _ in answers], required=0, gold=task.gold_answer)
        task.updated_at = timezone.now()
        task_store(task=task)
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
    task_store(task=task)
    return task

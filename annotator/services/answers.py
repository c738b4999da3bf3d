"""Answers: submit, undo, and the task's verdict recomputed under the task's row lock."""

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from annotator.conf import annotation_config
from annotator.errors import AlreadyAnswered, InvalidAnswer, LeaseExpired, NotYourAssignment
from annotator.models import Answer, Assignment, Task, TaskKind, TopicChoice
from annotator.services.assignment import profile_lock
from annotator.verdicts import thumbnail_verdict, topic_verdict
from curation.models import Frame


def _own_assignment(worker, assignment_id: int) -> Assignment:
    # The slot and its task are locked together: slot first, then task, as everywhere else.
    assignment = (
        Assignment.objects.select_for_update(of=("self", "task"))
        .select_related("task")
        .filter(id=assignment_id, worker=worker)
        .first()
    )
    if assignment is None:
        # Someone else's slot and a slot that does not exist look the same: nothing leaks.
        raise NotYourAssignment(f"Assignment {assignment_id} is not leased to you.")
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
    if assignment.lease_expires_at <= timezone.now():
        raise LeaseExpired(
            f"Your lease on assignment {assignment_id} has expired; the task went back to the pool."
        )
    task = assignment.task
    choice, frame_id = _validated(task, choice, frame_id)
    correct = None
    if task.is_gold:
        correct = (choice or str(frame_id)) == task.gold_answer
    answer = Answer.objects.create(
        task=task,
        assignment=assignment,
        worker=worker,
        choice=choice,
        frame_id=frame_id,
        is_gold=task.is_gold,
        correct=correct,
        seconds=seconds,
    )
    Assignment.objects.filter(id=assignment.id).update(state=Assignment.State.ANSWERED)
    task_recompute(task=task, check_slots=False)
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
    Answer.objects.filter(assignment=assignment).delete()
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
        task.answered = task.answers.count()
        task.save(update_fields=["answered", "updated_at"])
        return task
    answers = list(
        task.answers.exclude(worker__annotator__answers_excluded=True).values_list("choice", "frame_id")
    )
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
    task.save(
        update_fields=[
            "answered",
            "verdict",
            "verdict_frame",
            "agreement",
            "needed",
            "escalated",
            "updated_at",
        ]
    )
    return task

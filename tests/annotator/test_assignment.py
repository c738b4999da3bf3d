import pytest

from annotator.errors import LeaseExpired, TooManyLeases, WorkerPaused
from annotator.models import Answer, Assignment, Task
from annotator.services.answers import answer_submit
from annotator.services.assignment import assignment_next
from annotator.services.creation import task_make_gold, tasks_create
from annotator.services.quality import annotator_set_paused
from tests.annotator.conftest import expire
from tests.annotator.model_scores import scored_run

pytestmark = pytest.mark.django_db


def test_the_first_worker_gets_the_highest_priority_task(dataset, ready_video, worker1):
    for _ in range(5):
        ready_video()
    tasks_create(dataset=dataset, kind="topic")
    best = Task.objects.order_by("-priority", "id").first()

    assignment = assignment_next(worker=worker1)

    assert assignment.task_id == best.id and assignment.worker == worker1
    assert assignment.lease_expires_at > assignment.leased_at


def test_a_task_with_overlap_two_goes_to_two_different_workers_and_no_third(
    dataset, ready_video, worker1, worker2, crowd
):
    ready_video()
    tasks_create(dataset=dataset, kind="topic")
    (third,) = crowd(1)

    first = assignment_next(worker=worker1)
    second = assignment_next(worker=worker2)

    assert first.task_id == second.task_id and first.id != second.id
    assert assignment_next(worker=third) is None
    assert assignment_next(worker=worker1, exclude=[first.id]) is None  # never the same task twice


def test_next_hands_back_a_held_task_the_client_has_not_shown_and_caps_held_tasks_at_two(
    dataset, ready_video, worker1
):
    for _ in range(4):
        ready_video()
    tasks_create(dataset=dataset, kind="topic")

    shown = assignment_next(worker=worker1)
    again = assignment_next(worker=worker1)  # a page reload: the same task comes back
    prefetched = assignment_next(worker=worker1, exclude=[shown.id])

    assert again.id == shown.id and prefetched.id != shown.id
    with pytest.raises(TooManyLeases, match="already hold 2 tasks"):
        assignment_next(worker=worker1, exclude=[shown.id, prefetched.id])


def test_an_expired_lease_returns_the_slot_to_the_pool_and_the_late_answer_is_refused(
    dataset, ready_video, worker1, crowd
):
    ready_video()
    dataset.annotation_overlap = 1
    dataset.save()
    tasks_create(dataset=dataset, kind="topic")
    (late,) = crowd(1)
    lost = assignment_next(worker=late)
    assert assignment_next(worker=worker1) is None  # the only slot is held

    expire(lost)
    taken = assignment_next(worker=worker1)

    assert taken.id == lost.id and taken.worker == worker1
    with pytest.raises(Exception, match="not leased to you"):
        answer_submit(worker=late, assignment_id=lost.id, choice="yes")
    assert not Answer.objects.exists()


def test_an_answer_after_the_lease_expired_is_refused_and_nothing_is_stored(dataset, ready_video, worker1):
    ready_video()
    tasks_create(dataset=dataset, kind="topic")
    assignment = assignment_next(worker=worker1)
    expire(assignment)

    with pytest.raises(LeaseExpired, match="has expired"):
        answer_submit(worker=worker1, assignment_id=assignment.id, choice="no")

    assert not Answer.objects.exists()
    assert Assignment.objects.get(id=assignment.id).state == "open"


@pytest.mark.parametrize(
    "fields",
    [
        {"probe_status": "failed"},
        {"frames_status": "failed"},
        {"proxy_status": "failed"},
        {"proxy_status": "pending"},  # no playable copy yet
    ],
)
def test_a_task_whose_video_failed_the_pipeline_or_has_no_proxy_is_never_served(
    dataset, ready_video, worker1, fields
):
    video = ready_video()
    tasks_create(dataset=dataset, kind="topic")
    type(video).objects.filter(id=video.id).update(**fields)

    assert assignment_next(worker=worker1) is None


def test_a_paused_worker_gets_no_task_and_cannot_answer(dataset, ready_video, worker1):
    ready_video()
    tasks_create(dataset=dataset, kind="topic")
    held = assignment_next(worker=worker1)
    annotator_set_paused(worker=worker1, paused=True)

    with pytest.raises(WorkerPaused, match="paused"):
        assignment_next(worker=worker1)
    with pytest.raises(WorkerPaused, match="paused"):
        answer_submit(worker=worker1, assignment_id=held.id, choice="yes")
    assert not Answer.objects.exists()


# In a named dataset the regular slot is leased by the statement that picks it, and handed back
# when a gold task is served instead.
@pytest.mark.parametrize("in_dataset", [False, True])
def test_a_new_worker_sees_gold_tasks_first_then_regular_ones(dataset, ready_video, crowd, in_dataset):
    for _ in range(8):
        ready_video()
    tasks_create(dataset=dataset, kind="topic")
    gold = list(Task.objects.order_by("id")[:2])
    for task in gold:
        task_make_gold(task=task, answer="yes")
    (newcomer,) = crowd(1)

    served = []
    for _ in range(4):
        assignment = assignment_next(worker=newcomer, dataset=dataset if in_dataset else None)
        served.append(assignment.task_id)
        answer_submit(worker=newcomer, assignment_id=assignment.id, choice="yes")

    assert not Assignment.objects.filter(worker=newcomer, state=Assignment.State.OPEN).exists()
    assert served[:2] == [task.id for task in sorted(gold, key=lambda t: (-t.priority, t.id))]
    assert not set(served[2:]) & {task.id for task in gold}
    assert Answer.objects.filter(worker=newcomer, is_gold=True, correct=True).count() == 2


def test_tasks_are_served_by_model_score_before_unscored_ones(dataset, ready_video, worker1):
    unsure, unscored, sure = ready_video(), ready_video(), ready_video()
    scored_run(dataset, {unsure: 0.2, sure: 0.9})
    tasks_create(dataset=dataset, kind="topic", order="likely_noise")

    first = assignment_next(worker=worker1)
    second = assignment_next(worker=worker1, exclude=[first.id])
    answer_submit(worker=worker1, assignment_id=first.id, choice="yes")
    third = assignment_next(worker=worker1, exclude=[second.id])

    assert [a.task.video_id for a in (first, second, third)] == [unsure.id, sure.id, unscored.id]

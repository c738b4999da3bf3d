import pytest
from django.db import IntegrityError, transaction

from annotator.errors import AlreadyAnswered, InvalidAnswer, LeaseExpired, NotYourAssignment
from annotator.models import Answer, Assignment, Task
from annotator.services.answers import answer_submit, answer_undo
from annotator.services.assignment import assignment_next
from annotator.services.creation import task_make_gold, tasks_create
from annotator.services.quality import annotator_quality, annotator_set_excluded
from tests.annotator.conftest import expire

pytestmark = pytest.mark.django_db


def answer_one_task(workers, choices):
    """Each worker takes the next task and answers it; returns the task."""
    task_id = None
    for worker, choice in zip(workers, choices, strict=True):
        assignment = assignment_next(worker=worker)
        task_id = task_id or assignment.task_id
        assert assignment.task_id == task_id
        answer_submit(worker=worker, assignment_id=assignment.id, choice=choice)
    return Task.objects.get(id=task_id)


def test_it_marks_a_video_as_noise_when_both_annotators_say_no(dataset, ready_video, worker1, worker2):
    ready_video()
    tasks_create(dataset=dataset, kind="topic")

    task = answer_one_task([worker1, worker2], ["no", "no"])

    assert (task.verdict, task.answered, task.agreement) == ("noise", 2, 1.0)


def test_one_yes_and_one_no_is_a_disagreement(dataset, ready_video, worker1, worker2):
    ready_video()
    tasks_create(dataset=dataset, kind="topic")

    task = answer_one_task([worker1, worker2], ["yes", "no"])

    assert (task.verdict, task.agreement) == ("disagreement", 0.5)
    assert not task.assignments.filter(state="open").exists()


def test_a_disagreement_goes_to_a_third_worker_when_the_dataset_asks_for_it(
    dataset, ready_video, worker1, worker2, crowd
):
    dataset.settings = {"annotation": {"third_opinion": True}}
    dataset.save()
    ready_video()
    tasks_create(dataset=dataset, kind="topic")

    task = answer_one_task([worker1, worker2], ["yes", "no"])
    assert (task.verdict, task.needed, task.escalated) == ("pending", 3, True)

    (third,) = crowd(1)
    assignment = assignment_next(worker=third)
    assert assignment.task_id == task.id
    answer_submit(worker=third, assignment_id=assignment.id, choice="no")
    assert Task.objects.get(id=task.id).verdict == "noise"


def test_two_yes_verify_the_topic(dataset, ready_video, worker1, worker2):
    ready_video()
    tasks_create(dataset=dataset, kind="topic")
    assert answer_one_task([worker1, worker2], ["yes", "yes"]).verdict == "verified"


def test_answering_twice_is_refused_and_keeps_the_first_answer(dataset, ready_video, worker1):
    ready_video()
    tasks_create(dataset=dataset, kind="topic")
    assignment = assignment_next(worker=worker1)
    answer_submit(worker=worker1, assignment_id=assignment.id, choice="yes")

    with pytest.raises(AlreadyAnswered, match="already answered"):
        answer_submit(worker=worker1, assignment_id=assignment.id, choice="no")

    assert list(Answer.objects.values_list("choice", flat=True)) == ["yes"]


def test_the_database_refuses_a_second_answer_by_the_same_worker(dataset, ready_video, worker1):
    ready_video()
    tasks_create(dataset=dataset, kind="topic")
    assignment = assignment_next(worker=worker1)
    answer = answer_submit(worker=worker1, assignment_id=assignment.id, choice="yes")
    other_slot = Assignment.objects.filter(task=answer.task).exclude(id=assignment.id).get()

    with pytest.raises(IntegrityError), transaction.atomic():
        Answer.objects.create(task=answer.task, assignment=other_slot, worker=worker1, choice="no")


@pytest.mark.parametrize("choice", ["maybe", "", "YES", None])
def test_an_answer_outside_the_choices_is_refused_and_nothing_is_stored(
    dataset, ready_video, worker1, choice
):
    ready_video()
    tasks_create(dataset=dataset, kind="topic")
    assignment = assignment_next(worker=worker1)

    with pytest.raises(InvalidAnswer, match="is not an answer to this task; answer one of: yes, no, unsure"):
        answer_submit(worker=worker1, assignment_id=assignment.id, choice=choice)

    assert not Answer.objects.exists()
    assert Assignment.objects.get(id=assignment.id).state == "open"


def test_a_frame_that_is_not_a_candidate_is_refused(dataset, ready_video, with_frames, worker1):
    frames = {video.id: with_frames(video) for video in (ready_video(), ready_video())}
    tasks_create(dataset=dataset, kind="thumbnail")
    assignment = assignment_next(worker=worker1, kind="thumbnail")
    (foreign,) = [
        video_frames[0] for video_id, video_frames in frames.items() if video_id != assignment.task.video_id
    ]

    for bad in (foreign.id, 999999, None):
        with pytest.raises(InvalidAnswer, match=f"Frame {bad} is not one of this video's candidate frames"):
            answer_submit(worker=worker1, assignment_id=assignment.id, frame_id=bad)
    with pytest.raises(InvalidAnswer, match="answered with a frame"):
        answer_submit(worker=worker1, assignment_id=assignment.id, choice="yes")
    assert not Answer.objects.exists()


def test_a_thumbnail_pick_is_compared_with_the_ground_truth_frame(
    dataset, ready_video, with_frames, worker1, worker2
):
    frames = with_frames(ready_video(), count=5, truth=2)
    tasks_create(dataset=dataset, kind="thumbnail")
    task = Task.objects.get()
    assert task.truth_frame_id == frames[2].id

    for worker in (worker1, worker2):
        assignment = assignment_next(worker=worker)
        answer_submit(worker=worker, assignment_id=assignment.id, frame_id=frames[2].id)

    task.refresh_from_db()
    assert (task.verdict, task.verdict_frame_id, task.agreement) == ("matches_truth", frames[2].id, 1.0)


def test_answering_a_task_leased_to_someone_else_is_refused(dataset, ready_video, worker1, worker2):
    ready_video()
    tasks_create(dataset=dataset, kind="topic")
    theirs = assignment_next(worker=worker2)

    with pytest.raises(NotYourAssignment, match=f"Assignment {theirs.id} is not leased to you"):
        answer_submit(worker=worker1, assignment_id=theirs.id, choice="no")

    assert not Answer.objects.exists()


def test_undo_takes_back_the_last_answer_while_the_lease_holds(dataset, ready_video, worker1, worker2):
    ready_video()
    tasks_create(dataset=dataset, kind="topic")
    task = answer_one_task([worker1, worker2], ["no", "no"])
    mine = Assignment.objects.get(task=task, worker=worker2)

    answer_undo(worker=worker2, assignment_id=mine.id)

    task.refresh_from_db()
    assert (task.verdict, task.answered) == ("pending", 1)
    assert assignment_next(worker=worker2).id == mine.id  # still theirs, shown again
    answer_submit(worker=worker2, assignment_id=mine.id, choice="yes")
    assert Task.objects.get(id=task.id).verdict == "disagreement"


def test_undo_after_the_lease_expired_is_refused_and_the_answer_stays(dataset, ready_video, worker1):
    ready_video()
    tasks_create(dataset=dataset, kind="topic")
    assignment = assignment_next(worker=worker1)
    answer_submit(worker=worker1, assignment_id=assignment.id, choice="no")
    expire(assignment)

    with pytest.raises(LeaseExpired, match="its answer is final"):
        answer_undo(worker=worker1, assignment_id=assignment.id)

    assert Answer.objects.filter(assignment=assignment).exists()


def test_an_excluded_workers_new_answer_is_kept_but_does_not_count_and_the_task_gets_a_slot(
    dataset, ready_video, worker1, worker2, crowd
):
    ready_video()
    tasks_create(dataset=dataset, kind="topic")
    annotator_set_excluded(worker=worker1, excluded=True)

    task = answer_one_task([worker1, worker2], ["no", "no"])

    assert (task.verdict, task.answered, task.answers.count()) == ("pending", 1, 2)
    (third,) = crowd(1)
    assignment = assignment_next(worker=third)
    assert assignment.task_id == task.id
    answer_submit(worker=third, assignment_id=assignment.id, choice="no")
    task.refresh_from_db()
    assert (task.verdict, task.answered) == ("noise", 2)


def test_a_worker_under_the_gold_threshold_is_flagged_and_their_answers_can_be_excluded(
    dataset, ready_video, worker1, worker2, crowd
):
    dataset.settings = {"annotation": {"gold_first": 5, "min_gold_for_flag": 5}}
    dataset.save()
    for _ in range(7):
        ready_video()
    tasks_create(dataset=dataset, kind="topic")
    for task in Task.objects.order_by("id")[:5]:
        task_make_gold(task=task, answer="yes")
    for worker, choice in ((worker1, "no"), (worker2, "yes")):  # worker1 gets every gold wrong
        for _ in range(6):
            assignment = assignment_next(worker=worker)
            answer_submit(worker=worker, assignment_id=assignment.id, choice=choice)
    quality = {q.username: q for q in annotator_quality(dataset=dataset)}
    assert (quality["worker1"].gold_accuracy, quality["worker1"].flagged) == (0.0, True)
    assert (quality["worker2"].gold_accuracy, quality["worker2"].flagged) == (1.0, False)
    shared = Task.objects.get(is_gold=False, answered=2)
    assert shared.verdict == "disagreement"

    assert annotator_set_excluded(worker=worker1, excluded=True) == 1

    shared.refresh_from_db()
    assert (shared.verdict, shared.answered) == ("pending", 1)
    (replacement,) = crowd(1)
    for _ in range(5):  # the newcomer's gold tasks come first
        answer_submit(worker=replacement, assignment_id=assignment_next(worker=replacement).id, choice="yes")
    assignment = assignment_next(worker=replacement)
    answer_submit(worker=replacement, assignment_id=assignment.id, choice="yes")
    assert Task.objects.get(id=shared.id).verdict == "verified"

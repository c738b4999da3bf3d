import pytest
from django.core.management import CommandError, call_command

from annotator.errors import TaskCreationError
from annotator.models import Assignment, Task
from annotator.services.creation import task_make_gold, tasks_create

pytestmark = pytest.mark.django_db


def test_create_tasks_makes_one_task_per_video_with_overlap_slots_and_is_idempotent(dataset, ready_video):
    for _ in range(3):
        ready_video()
    ready_video(weak_topic=None)  # nothing to verify
    ready_video(probe_status="failed")

    first = tasks_create(dataset=dataset, kind="topic")
    again = tasks_create(dataset=dataset, kind="topic")

    assert (first.created, first.not_eligible) == (3, 2)
    assert (again.created, again.already_present) == (0, 3)
    assert Assignment.objects.count() == 3 * dataset.annotation_overlap
    assert sorted(Task.objects.values_list("needed", flat=True)) == [2, 2, 2]


def test_the_random_order_is_the_same_on_every_run(dataset, ready_video):
    videos = [ready_video() for _ in range(5)]
    tasks_create(dataset=dataset, kind="topic")
    order = list(Task.objects.order_by("-priority").values_list("video_id", flat=True))
    Task.objects.all().delete()

    tasks_create(dataset=dataset, kind="topic")

    assert list(Task.objects.order_by("-priority").values_list("video_id", flat=True)) == order
    assert sorted(order) == [v.id for v in videos]


def test_thumbnail_tasks_need_candidate_frames_and_record_the_ground_truth(dataset, ready_video, with_frames):
    with_frames(ready_video(), count=3, truth=0)
    ready_video()  # no frames: not eligible

    summary = tasks_create(dataset=dataset, kind="thumbnail")

    task = Task.objects.get()
    assert (summary.created, summary.not_eligible) == (1, 1)
    assert task.truth_frame.index == 0 and task.topic is None


def test_the_command_takes_a_limit_and_a_split(dataset, ready_video, capsys):
    for split in ("val", "val", "train"):
        ready_video(metadata={"split": split})

    call_command(
        "create_tasks", "--dataset", dataset.slug, "--kind", "topic", "--only-split", "val", "--limit", "1"
    )
    assert "1 new topic tasks" in capsys.readouterr().out
    call_command("create_tasks", "--dataset", dataset.slug, "--kind", "topic", "--only-split", "val")
    assert {t.video.metadata["split"] for t in Task.objects.all()} == {"val"} and Task.objects.count() == 2

    with pytest.raises(CommandError, match="no dataset 'missing'"):
        call_command("create_tasks", "--dataset", "missing", "--kind", "topic")
    with pytest.raises(CommandError, match="--limit must be at least 1"):
        call_command("create_tasks", "--dataset", dataset.slug, "--kind", "topic", "--limit", "0")


def test_only_an_unanswered_task_with_a_valid_answer_becomes_gold(dataset, ready_video):
    ready_video()
    tasks_create(dataset=dataset, kind="topic")
    task = Task.objects.get()

    with pytest.raises(TaskCreationError, match="'maybe' is not a topic answer"):
        task_make_gold(task=task, answer="maybe")
    gold = task_make_gold(task=task, answer="no")

    assert (gold.is_gold, gold.gold_answer, gold.needed) == (True, "no", 0)
    assert not Assignment.objects.exists()  # gold slots are made per worker when served

"""Verification orders (issue 16): which videos a round of topic tasks asks about, and in which
order the crowd gets them; reprioritising open tasks; the order as a dataset setting."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from annotator.errors import AnnotationSettingsError, TaskCreationError
from annotator.models import Answer, Assignment, Task
from annotator.queries import priorities, sql
from annotator.services.answers import answer_submit
from annotator.services.assignment import assignment_next
from annotator.services.creation import tasks_create
from annotator.services.ordering import random_priority, task_reprioritise
from curation.models import ModelRun
from tests.annotator.model_scores import scored_run

pytestmark = pytest.mark.django_db


def order_of_service(worker) -> list[int]:
    """The videos of the tasks served to one worker, in the order served (each answered)."""
    served = []
    while (assignment := assignment_next(worker=worker)) is not None:
        served.append(assignment.task.video_id)
        answer_submit(worker=worker, assignment_id=assignment.id, choice="yes")
    return served


@pytest.fixture
def no_gold(dataset):
    dataset.settings = {"annotation": {"gold_first": 0, "gold_rate": 0}}
    dataset.save()
    return dataset


def test_likely_noise_asks_about_the_least_likely_weak_topics_first(dataset, ready_video, worker1):
    probability = [0.9, 0.1, 0.5, 0.3, 0.7]
    videos = [ready_video() for _ in probability]
    unscored = ready_video()
    scored_run(dataset, dict(zip(videos, probability, strict=True)))

    summary = tasks_create(dataset=dataset, kind="topic", order="likely_noise")

    tasks = {t.video_id: t for t in Task.objects.all()}
    assert summary.created == 6 and summary.unscored == 1
    assert "order likely_noise (model usv-sample/v1/run-1)" in str(summary)
    assert "1 of the new tasks' videos have no score (ranked below every scored one" in str(summary)
    for video, p in zip(videos, probability, strict=True):
        assert tasks[video.id].priority == pytest.approx(1 + (1 - p))
    assert tasks[unscored.id].priority == pytest.approx(random_priority(0, unscored.id))
    assert tasks[unscored.id].priority < 1
    assert {t.selected_by for t in tasks.values()} == {"likely_noise"}
    assert set(Assignment.objects.values_list("task__priority", "priority").distinct()) == {
        (t.priority, t.priority) for t in tasks.values()
    }
    served = order_of_service(worker1)
    assert served == [videos[1].id, videos[3].id, videos[2].id, videos[4].id, videos[0].id, unscored.id]


def test_uncertain_asks_about_probabilities_nearest_one_half_first(dataset, ready_video, worker1):
    probability = [0.02, 0.5, 0.9, 0.45]
    videos = [ready_video() for _ in probability]
    scored_run(dataset, dict(zip(videos, probability, strict=True)))

    tasks_create(dataset=dataset, kind="topic", order="uncertain")

    priority = dict(Task.objects.values_list("video_id", "priority"))
    assert [priority[v.id] for v in videos] == pytest.approx([1.04, 2.0, 1.2, 1.9])
    assert order_of_service(worker1) == [videos[1].id, videos[3].id, videos[2].id, videos[0].id]


def test_a_limited_model_round_is_the_n_most_likely_noisy_videos_not_the_first_n_by_id(dataset, ready_video):
    probability = [0.8, 0.7, 0.6, 0.05, 0.2, 0.1]
    videos = [ready_video() for _ in probability]
    scored_run(dataset, dict(zip(videos, probability, strict=True)))

    summary = tasks_create(dataset=dataset, kind="topic", order="likely_noise", limit=3)
    rest = tasks_create(dataset=dataset, kind="topic", order="likely_noise", limit=2)

    assert summary.created == 3 and rest.created == 2
    first_round = set(Task.objects.order_by("id")[:3].values_list("video_id", flat=True))
    assert first_round == {videos[3].id, videos[4].id, videos[5].id}
    assert set(Task.objects.order_by("id")[3:].values_list("video_id", flat=True)) == {
        videos[1].id,
        videos[2].id,
    }
    assert rest.already_present == 3


def test_a_limited_random_round_is_a_seeded_random_sample(dataset, ready_video):
    videos = [ready_video() for _ in range(12)]

    tasks_create(dataset=dataset, kind="topic", limit=4)

    expected = sorted(videos, key=lambda v: -random_priority(0, v.id))[:4]
    assert set(Task.objects.values_list("video_id", flat=True)) == {v.id for v in expected}
    assert set(Task.objects.values_list("selected_by", flat=True)) == {"random"}


def test_a_model_order_without_a_finished_model_run_is_refused_and_nothing_is_made(dataset, ready_video):
    video = ready_video()
    scored_run(dataset, {video: 0.2}, status=ModelRun.Status.RUNNING)
    refusal = "dataset usv-sample has no trained model: train one \\(train_baseline\\) or use --order random"

    for order in ("likely_noise", "uncertain", "hard_negatives"):
        with pytest.raises(TaskCreationError, match=refusal):
            tasks_create(dataset=dataset, kind="topic", order=order)
    with pytest.raises(CommandError, match=refusal):
        call_command("create_tasks", "--dataset", dataset.slug, "--kind", "topic", "--order", "likely_noise")
    with pytest.raises(CommandError, match=refusal):
        call_command(
            "create_tasks", "--dataset", dataset.slug, "--kind", "topic", "--reorder", "--order", "uncertain"
        )

    assert not Task.objects.exists() and not Assignment.objects.exists()
    assert tasks_create(dataset=dataset, kind="topic", order="random").created == 1


def test_the_dataset_setting_chooses_the_order_and_the_command_overrides_it(dataset, ready_video, capsys):
    low, high = ready_video(), ready_video()
    scored_run(dataset, {low: 0.1, high: 0.9})
    dataset.settings = {"annotation": {"verification_order": "likely_noise"}}
    dataset.save()

    call_command("create_tasks", "--dataset", dataset.slug, "--kind", "topic", "--limit", "1")
    call_command("create_tasks", "--dataset", dataset.slug, "--kind", "topic", "--order", "random")

    assert "1 new topic tasks" in capsys.readouterr().out
    assert dict(Task.objects.values_list("video_id", "selected_by")) == {
        low.id: "likely_noise",
        high.id: "random",
    }


@pytest.mark.parametrize(
    ("setting", "value", "message"),
    [
        (
            "verification_order",
            "noisiest",
            "is 'noisiest'; use one of: random, likely_noise, uncertain, hard_negatives",
        ),
        ("hard_negative_min_score", 0, "is 0; use a number above 0 and at most 1"),
        ("hard_negative_min_score", "high", "is 'high'; use a number above 0 and at most 1"),
        ("show_model_guesses", "yes", "is 'yes'; use true or false"),
    ],
)
def test_a_bad_setting_is_refused_naming_the_setting_and_the_value(
    dataset, ready_video, setting, value, message
):
    ready_video()
    dataset.settings = {"annotation": {setting: value}}
    dataset.save()

    with pytest.raises(
        AnnotationSettingsError, match=f"dataset usv-sample: setting annotation.{setting} {message}"
    ):
        tasks_create(dataset=dataset, kind="topic")
    with pytest.raises(CommandError, match=f"annotation.{setting} {message}"):
        call_command("create_tasks", "--dataset", dataset.slug, "--kind", "topic")
    assert not Task.objects.exists()


def test_thumbnail_tasks_are_made_in_random_order_and_refuse_a_model_order(dataset, ready_video, with_frames):
    with_frames(ready_video())
    dataset.settings = {"annotation": {"verification_order": "likely_noise"}}  # an order of topic tasks
    dataset.save()

    with pytest.raises(TaskCreationError, match="thumbnail tasks are made in random order"):
        tasks_create(dataset=dataset, kind="thumbnail", order="uncertain")
    summary = tasks_create(dataset=dataset, kind="thumbnail")

    assert summary.created == 1 and Task.objects.get().selected_by == "random"


def test_reordering_updates_open_tasks_and_open_slots_in_one_statement_each(
    dataset, ready_video, no_gold, worker1, worker2, monkeypatch
):
    videos = [ready_video() for _ in range(4)]
    tasks_create(dataset=dataset, kind="topic")  # random order: no model yet
    first, second = order_of_service_n(worker1, 2)
    (third,) = order_of_service_n(worker2, 1)
    assert third.task_id == first.task_id  # that task is finished, the second one half answered
    probability = dict(zip([v.id for v in videos], [0.3, 0.9, 0.6, 0.05], strict=True))
    scored_run(dataset, {v: probability[v.id] for v in videos})
    before = dict(Task.objects.values_list("id", "priority"))

    raw = []  # the hand-written statements: prepared on the raw connection, which Django does not log

    def logged(statement, *args, **kwargs):
        raw.append(statement)
        return sql(statement, *args, **kwargs)

    monkeypatch.setattr(priorities, "sql", logged)
    with CaptureQueriesContext(connection) as queries:
        summary = task_reprioritise(dataset=dataset, order="likely_noise")

    statements = [q["sql"] for q in queries.captured_queries] + raw
    writes = [" ".join(text.split())[:60] for text in statements if "UPDATE" in text.upper()]
    assert writes == [
        "WITH changed AS ( UPDATE annotator_assignment a SET priority",
        "UPDATE annotator_task t SET priority = v.priority, selected_",
    ]
    assert (summary.tasks, summary.slots, summary.unscored) == (3, 5, 0)
    done = Task.objects.get(id=first.task_id)
    assert done.priority == before[done.id] and done.selected_by == "random"
    for task in Task.objects.exclude(id=done.id):
        assert (
            task.priority == pytest.approx(2 - probability[task.video_id])
            and task.selected_by == "likely_noise"
        )
        assert {a.priority for a in task.assignments.filter(state="open")} == {task.priority}
    assert Assignment.objects.get(id=second.id).priority == before[second.task_id]  # answered: untouched

    again = task_reprioritise(dataset=dataset, order="random")

    assert again.tasks == 3
    for task in Task.objects.exclude(id=done.id):
        # Back in random order; still marked: answers spent in model order stay a biased sample.
        assert task.priority == pytest.approx(random_priority(0, task.video_id))
        assert task.selected_by == "likely_noise"


def order_of_service_n(worker, n: int) -> list[Assignment]:
    """The first n slots served to the worker, each answered No."""
    served = []
    for _ in range(n):
        assignment = assignment_next(worker=worker)
        answer_submit(worker=worker, assignment_id=assignment.id, choice="no")
        served.append(assignment)
    return served


def test_the_reorder_command_prints_what_it_changed_and_refuses_creation_flags(dataset, ready_video, capsys):
    videos = [ready_video() for _ in range(3)]
    tasks_create(dataset=dataset, kind="topic")
    scored_run(dataset, {videos[0]: 0.5, videos[1]: 0.4})

    call_command(
        "create_tasks", "--dataset", dataset.slug, "--kind", "topic", "--reorder", "--order", "uncertain"
    )

    out = capsys.readouterr().out
    assert "order uncertain by model usv-sample/v1/run-1: 3 open tasks and 0 open hard-negative tasks" in out
    assert "(6 open slots); 1 videos without a score" in out
    assert Task.objects.get(video=videos[0]).priority == pytest.approx(2.0)
    with pytest.raises(
        CommandError, match="--reorder creates no tasks: --limit, --only-split cannot go with it"
    ):
        call_command(
            "create_tasks", "--dataset", dataset.slug, "--kind", "topic", "--reorder", "--limit", "3",
            "--only-split", "val",
        )  # fmt: skip
    with pytest.raises(CommandError, match="--reorder reprioritises topic tasks: use --kind topic"):
        call_command("create_tasks", "--dataset", dataset.slug, "--kind", "thumbnail", "--reorder")
    assert not Answer.objects.exists()


def test_an_active_rounds_verdicts_weigh_in_the_next_training(
    dataset, ready_video, no_gold, worker1, worker2
):
    from curation.models import SplitMember
    from curation.services.modelling.training import _inputs

    probability = [0.05, 0.2, 0.7, 0.9]
    videos = [ready_video() for _ in probability]
    run = scored_run(dataset, dict(zip(videos, probability, strict=True)))
    SplitMember.objects.bulk_create(SplitMember(split=run.split, video=v, subset="train") for v in videos)
    call_command(
        "create_tasks",
        "--dataset",
        dataset.slug,
        "--kind",
        "topic",
        "--order",
        "likely_noise",
        "--limit",
        "2",
    )
    said = {videos[0].id: "no", videos[1].id: "yes"}  # the round: the two most likely noisy videos
    for worker in (worker1, worker2):
        while (assignment := assignment_next(worker=worker)) is not None:
            answer_submit(worker=worker, assignment_id=assignment.id, choice=said[assignment.task.video_id])
    call_command("aggregate", "--dataset", dataset.slug, stdout=StringIO())

    video_ids, _, _, _, weights = _inputs(ModelRun(dataset=dataset, split=run.split, settings={}))

    # Verified noise is left out of training, a verified weak topic weighs 3×, the rest 1×.
    assert dict(zip(video_ids, weights.tolist(), strict=True)) == {
        videos[0].id: 0.0,
        videos[1].id: 3.0,
        videos[2].id: 1.0,
        videos[3].id: 1.0,
    }

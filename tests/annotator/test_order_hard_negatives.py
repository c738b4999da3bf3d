"""Hard negatives (MiCRObE): videos the model scores high for a topic they were not collected for
become topic tasks for that topic; their answers are findings, never the video's verdict."""

import pytest

from annotator.models import Task
from annotator.services.aggregation import dataset_aggregate
from annotator.services.answers import answer_submit
from annotator.services.assignment import assignment_next
from annotator.services.creation import tasks_create
from annotator.services.ordering import HardNegativeFinding, hard_negative_findings
from curation.models import NoiseEstimate, VideoVerdict
from curation.services.labels import VerdictError, verdicts_aggregate
from tests.annotator.model_scores import scored_run

pytestmark = pytest.mark.django_db


@pytest.fixture
def topics(dataset):
    return list(dataset.topics.order_by("id")[:3])


@pytest.fixture
def no_gold(dataset):
    dataset.settings = {"annotation": {"gold_first": 0, "gold_rate": 0}}
    dataset.save()
    return dataset


def answer_all(worker, choice) -> None:
    """The worker answers every task served, `choice(task)` for each."""
    while (assignment := assignment_next(worker=worker)) is not None:
        answer_submit(worker=worker, assignment_id=assignment.id, choice=choice(assignment.task))


def test_a_video_scored_high_for_another_topic_gets_a_task_about_that_topic(dataset, ready_video, topics):
    a, b, _ = topics
    off, on, weak = ready_video(topic=a), ready_video(topic=a), ready_video(topic=a)
    failed = ready_video(topic=a, probe_status="failed")
    scored_run(
        dataset,
        {off: 0.1, on: 0.9, weak: 0.3, failed: 0.05},
        tops={off: (b, 0.8), weak: (b, 0.4), failed: (b, 0.9)},
    )

    summary = tasks_create(dataset=dataset, kind="topic", order="hard_negatives")

    task = Task.objects.get()
    assert (task.video_id, task.topic_id, task.selected_by, task.needed) == (
        off.id,
        b.id,
        "hard_negatives",
        2,
    )
    assert task.priority == pytest.approx(0.8) and task.assignments.count() == 2
    assert (summary.created, summary.not_eligible) == (1, 1)
    assert "that the model scores at least 0.5" in str(summary)

    dataset.settings = {"annotation": {"hard_negative_min_score": 0.35}}
    dataset.save()
    lower = tasks_create(dataset=dataset, kind="topic", order="hard_negatives")
    weak_topic_round = tasks_create(dataset=dataset, kind="topic", order="random")

    assert (lower.created, lower.already_present) == (1, 1)
    assert Task.objects.get(video=weak, selected_by="hard_negatives").topic_id == b.id
    # The weak-topic tasks come beside them: one task per video, kind and topic.
    assert weak_topic_round.created == 3
    assert set(Task.objects.filter(video=off).values_list("topic_id", "selected_by")) == {
        (a.id, "random"),
        (b.id, "hard_negatives"),
    }


def test_hard_negative_answers_never_make_the_videos_verdict_and_a_yes_is_a_finding(
    dataset, ready_video, topics, no_gold, worker1, worker2
):
    a, b, _ = topics
    video, other = ready_video(topic=a), ready_video(topic=a)
    scored_run(dataset, {video: 0.1, other: 0.2}, tops={video: (b, 0.9), other: (b, 0.7)})
    tasks_create(dataset=dataset, kind="topic", order="random")
    tasks_create(dataset=dataset, kind="topic", order="hard_negatives")
    # About the weak topic: `video` is noise, `other` verified. About topic b: the opposite.
    said = {(video.id, a.id): "no", (other.id, a.id): "yes", (video.id, b.id): "yes", (other.id, b.id): "no"}
    for worker in (worker1, worker2):
        answer_all(worker, lambda task: said[(task.video_id, task.topic_id)])

    summary = dataset_aggregate(dataset=dataset)

    assert summary.answers == 4 and summary.items == 2  # the hard-negative answers are not votes
    verdicts = {v.video_id: (v.label, v.answers_used) for v in VideoVerdict.objects.all()}
    assert verdicts == {video.id: ("noise", 2), other.id: ("verified", 2)}
    overall = NoiseEstimate.objects.get(scope="dataset", estimator="human")
    assert (overall.noisy, overall.n) == (1, 2)
    # Each hard-negative task's own live verdict is about its topic.
    assert dict(Task.objects.filter(topic=b).values_list("video_id", "verdict")) == {
        video.id: "verified",
        other.id: "noise",
    }
    assert hard_negative_findings(dataset=dataset) == [
        HardNegativeFinding(video.id, video.external_id, video.title, a.name, b.name, "verified", 2, 1.0)
    ]


def test_answers_to_hard_negatives_alone_are_no_topic_answers_to_aggregate(
    dataset, ready_video, topics, no_gold, worker1, worker2
):
    a, b, _ = topics
    video = ready_video(topic=a)
    scored_run(dataset, {video: 0.1}, tops={video: (b, 0.9)})
    tasks_create(dataset=dataset, kind="topic", order="hard_negatives")
    for worker in (worker1, worker2):
        answer_all(worker, lambda task: "yes")

    with pytest.raises(VerdictError, match="dataset usv-sample has no topic answers to aggregate"):
        dataset_aggregate(dataset=dataset)
    assert not VideoVerdict.objects.exists()


def test_a_finding_stays_listed_when_the_video_loses_its_weak_topic(
    dataset, ready_video, topics, no_gold, worker1, worker2
):
    a, b, _ = topics
    video = ready_video(topic=a)
    scored_run(dataset, {video: 0.1}, tops={video: (b, 0.9)})
    tasks_create(dataset=dataset, kind="topic", order="hard_negatives")
    for worker in (worker1, worker2):
        answer_all(worker, lambda task: "yes")
    video.weak_topic = None
    video.save()

    findings = hard_negative_findings(dataset=dataset)

    assert [(f.video_id, f.weak_topic, f.topic) for f in findings] == [(video.id, None, b.name)]


def test_the_aggregation_tells_the_noise_estimate_which_videos_a_model_order_chose(
    dataset, ready_video, topics, no_gold, worker1, worker2, monkeypatch
):
    from annotator.services import aggregation

    a, b, _ = topics
    chosen, sampled, other = ready_video(topic=a), ready_video(topic=a), ready_video(topic=a)
    scored_run(dataset, {chosen: 0.01, sampled: 0.04, other: 0.8}, tops={sampled: (b, 0.95)})
    tasks_create(dataset=dataset, kind="topic", order="likely_noise", limit=1)
    tasks_create(dataset=dataset, kind="topic", order="random")
    tasks_create(dataset=dataset, kind="topic", order="hard_negatives")
    for worker in (worker1, worker2):
        answer_all(worker, lambda task: "no")
    handed = {}

    def spy(**kwargs):
        handed.update(kwargs)
        return verdicts_aggregate(**kwargs)

    monkeypatch.setattr(aggregation, "verdicts_aggregate", spy)
    dataset_aggregate(dataset=dataset)

    # The hard-negative task (about topic b) chose nothing about `sampled`'s weak topic.
    assert handed["selection"] == {chosen.id: "likely_noise"}
    assert dict(VideoVerdict.objects.values_list("video_id", "label")) == {
        chosen.id: "noise",
        sampled.id: "noise",
        other.id: "noise",
    }

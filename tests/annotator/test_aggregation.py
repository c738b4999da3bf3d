"""dataset_aggregate and `manage.py aggregate`: real annotator answers → curation verdicts."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from annotator.models import Task
from annotator.services.aggregation import dataset_aggregate
from annotator.services.answers import answer_submit
from annotator.services.assignment import assignment_next
from annotator.services.creation import task_make_gold, tasks_create
from annotator.services.quality import annotator_set_excluded
from curation.models import AggregationRun, ExternalAnswer, NoiseEstimate, VideoVerdict

pytestmark = pytest.mark.django_db


def answer_all(worker, choices: dict) -> None:
    """The worker answers every task served, `choices[video]` for each video."""
    while (assignment := assignment_next(worker=worker)) is not None:
        answer_submit(worker=worker, assignment_id=assignment.id, choice=choices[assignment.task.video_id])


def verdicts():
    return dict(VideoVerdict.objects.values_list("video_id", "label"))


def test_two_no_from_real_answers_make_the_video_noise(dataset, ready_video, worker1, worker2):
    off, on = ready_video(), ready_video()
    tasks_create(dataset=dataset, kind="topic")
    for worker in (worker1, worker2):
        answer_all(worker, {off.id: "no", on.id: "yes"})

    summary = dataset_aggregate(dataset=dataset)

    assert summary.method == "usv" and summary.answers == 4 and summary.workers == 2
    assert verdicts() == {off.id: "noise", on.id: "verified"}
    run = AggregationRun.objects.get()
    assert set(run.worker_quality) == {f"user:{worker1.id}", f"user:{worker2.id}"}
    overall = NoiseEstimate.objects.get(scope="dataset")
    assert (overall.noisy, overall.n, overall.run_id) == (1, 2, run.id)


def test_an_excluded_workers_answers_are_not_used(dataset, ready_video, worker1, worker2):
    video = ready_video()
    tasks_create(dataset=dataset, kind="topic")
    for worker in (worker1, worker2):
        answer_all(worker, {video.id: "no"})
    annotator_set_excluded(worker=worker1, excluded=True)

    summary = dataset_aggregate(dataset=dataset)

    assert summary.excluded_workers == 1 and summary.answers == 1
    assert verdicts() == {video.id: "pending"}  # one answer counts, the task needs two
    assert set(AggregationRun.objects.get().worker_quality) == {f"user:{worker2.id}"}


def test_a_gold_video_takes_its_gold_answer_and_imported_answers_count(
    dataset, ready_video, worker1, worker2
):
    gold_video, other = ready_video(), ready_video()
    tasks_create(dataset=dataset, kind="topic")
    task_make_gold(task=Task.objects.get(video=gold_video), answer="no")
    for worker in (worker1, worker2):
        answer_all(worker, {gold_video.id: "yes", other.id: "no"})
    ExternalAnswer.objects.create(dataset=dataset, video=other, worker="old-7", label="no", source="r1.csv")

    summary = dataset_aggregate(dataset=dataset, method="mv")

    verdict = VideoVerdict.objects.get(video=gold_video)
    assert (verdict.label, verdict.from_gold, verdict.method) == ("noise", True, "mv")
    assert summary.external_answers == 1 and VideoVerdict.objects.get(video=other).answers_used >= 2
    quality = AggregationRun.objects.get().worker_quality
    assert quality[f"user:{worker1.id}"]["gold_accuracy"] == 0.0 and "ext:old-7" in quality


def test_the_command_prints_the_method_verdicts_and_the_noise_estimate(
    dataset, ready_video, worker1, worker2
):
    videos = [ready_video() for _ in range(4)]
    tasks_create(dataset=dataset, kind="topic", limit=3)  # a random three: one video stays unverified
    tasked = sorted(Task.objects.values_list("video_id", flat=True))
    for worker in (worker1, worker2):
        answer_all(worker, {v.id: ("no" if v.id == tasked[0] else "yes") for v in videos})
    out = StringIO()

    call_command("aggregate", "--dataset", dataset.slug, stdout=out)

    text = out.getvalue()
    assert "method usv (auto: 2.0 answers per video" in text and "noise 1" in text and "verified 2" in text
    assert "Noise: 1 of 3 judged videos = 33.3% (95 % CI" in text
    assert "Of the 1 unverified videos about 0 are probably noise (95 % CI 0–1)." in text


def test_the_command_refuses_an_unknown_dataset_and_a_dataset_without_answers(dataset):
    with pytest.raises(CommandError, match="no dataset 'nope'"):
        call_command("aggregate", "--dataset", "nope")
    with pytest.raises(CommandError, match="usv-sample: dataset usv-sample has no topic answers"):
        call_command("aggregate", "--dataset", dataset.slug)
    assert not AggregationRun.objects.exists()

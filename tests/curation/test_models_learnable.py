"""Issues 15 and 16's acceptance test: a generated dataset whose topics are learnable from each modality
separately (a colour and shape per topic in the frames, a tone per topic in the audio, a word per
topic in the title), each cue present in 65 % of a topic's videos (no branch alone can pass 0.65
accuracy), with USV's 21.7 % label noise and one topic made unlearnable. Clips go through the real
probe, audio, frames and features stages; half the split is verified by two simulated annotators
(USV's protocol) before the frozen split is made; `train_baseline` trains, evaluates and scores;
every assertion reads numbers the run computed."""

import json
from io import StringIO

import numpy as np
import pytest
from django.core.management import call_command

from curation.models import ModelRun, NoiseEstimate, SplitMember, StageStatus, Video, VideoFeature, VideoScore
from curation.services.datasets import dataset_create
from curation.services.labels.noise_model import model_method
from curation.services.pipeline import stage_execute
from ml.active import active_report
from tests.fixtures.learnable import LearnableSpec, learnable_dataset, learnable_topics_csv

pytestmark = [pytest.mark.models, pytest.mark.django_db]

# Four learnable topics and one unlearnable, 60 two-second clips each: val and test hold about 70
# videos each, so a branch's accuracy is known to about ±0.06 (with 45 it varied by 0.12 between runs).
SPEC = LearnableSpec(
    topics=("basketball", "cooking tutorial", "pet cat", "yoga"),
    videos_per_topic=60,
    cue_probability=0.65,
    seconds=2.0,
)
CHANCE = 1 / (len(SPEC.topics) + len(SPEC.unlearnable))
STAGES = ("probe", "audio", "frames", "features")


@pytest.fixture(scope="session")
def learnable(tmp_path_factory):
    return learnable_dataset(tmp_path_factory.mktemp("learnable"), SPEC)


def _answers(path, rows) -> None:
    lines = ["video,worker,answer"]
    for external_id, answer in rows:
        lines += [f"{external_id},annotator-a,{answer}", f"{external_id},annotator-b,{answer}"]
    path.write_text("\n".join(lines) + "\n")


def _mca(metrics: dict, subset: str = "val") -> float:
    return metrics[subset]["mca"]["value"]


def test_each_branch_learns_its_modality_and_the_fusion_beats_them_all(
    learnable, settings, tmp_path, media_dir
):
    settings.MICROCURATE_MEDIA_ROOTS = [*settings.MICROCURATE_MEDIA_ROOTS, str(learnable.folder)]
    dataset = dataset_create(slug="learnable", name="Learnable topics")
    call_command(
        "load_taxonomy", "--dataset", "learnable", str(learnable_topics_csv(tmp_path / "t.csv", SPEC))
    )
    call_command(
        "ingest", "--dataset", "learnable", str(learnable.manifest), "--pipeline", "none", "--no-progress"
    )
    videos = list(Video.objects.filter(dataset=dataset).order_by("id"))
    assert len(videos) == len(learnable.truth)
    for video in videos:
        for stage in STAGES:
            assert stage_execute(video_id=video.id, stage_name=stage) == StageStatus.DONE, Video.objects.get(
                id=video.id
            ).error
    # Audio, title and frames for every video; the subtitle's row says why it has no vector.
    assert VideoFeature.objects.filter(video__dataset=dataset, vector__isnull=False).count() == 3 * len(
        videos
    )
    assert set(VideoFeature.objects.filter(kind="subtitle").values_list("reason", flat=True)) == {
        "the video has no subtitle (OCR did not run)"
    }

    # USV's protocol: two annotators verify a random validation sample; videos both answer No
    # to are noise and leave val/test.
    call_command("make_split", "--dataset", "learnable", "--name", "v0", "--ratios", "0.4,0.3,0.3")
    sample = SplitMember.objects.filter(split__name="v0", subset__in=["val", "test"]).select_related("video")
    truth = learnable.truth
    answers = [(m.video.external_id, "no" if truth[m.video.external_id]["noise"] else "yes") for m in sample]
    _answers(tmp_path / "answers.csv", answers)
    call_command("import_answers", "--dataset", "learnable", str(tmp_path / "answers.csv"))
    call_command("aggregate", "--dataset", "learnable", "--method", "usv")
    call_command(
        "make_split", "--dataset", "learnable", "--name", "v1", "--ratios", "0.4,0.3,0.3", "--freeze"
    )

    out = StringIO()
    call_command("train_baseline", "--dataset", "learnable", "--split", "v1", stdout=out, stderr=StringIO())
    run = ModelRun.objects.get(dataset=dataset)
    metrics = run.metrics
    print(out.getvalue())
    assert run.status == "done" and metrics["refused"] is None

    branches = {name: _mca(metrics["branches"][name]) for name in ("visual", "audio", "text")}
    fused = {subset: _mca(metrics["fused"]["usv"], subset) for subset in ("val", "test")}
    print(
        json.dumps({"branches_val": branches, "fused_usv": fused, "fitted": _mca(metrics["fused"]["fitted"])})
    )
    for name, value in branches.items():
        assert value > 2 * CHANCE, f"{name} branch: val mca {value:.3f} is not well above chance {CHANCE:.3f}"
    # val calibrates the heads and fits the alternative fusion, so the comparison is made on test:
    # the fused model ranks each topic's videos better than every single branch (per-topic mAP,
    # MV-58K's measure). Its accuracy is printed, not asserted: with about 14 test videos per topic
    # the argmax of the fusion and of the best branch differ by a video or two either way (measured
    # over five generated sets: fused mAP above the best branch by 0.035-0.18 every time, accuracy
    # above it three times of five).
    single = {name: metrics["branches"][name]["test"]["map_tag"]["value"] for name in branches}
    together = metrics["fused"]["usv"]["test"]["map_tag"]["value"]
    assert together > max(single.values()), (together, single)
    assert metrics["winner"] in ("usv", "fitted")

    per_topic = {t["name"]: t for t in metrics["per_topic"]}
    for topic in SPEC.unlearnable:
        assert per_topic[topic]["status"] == "unlearnable", per_topic[topic]
    for topic in SPEC.topics:
        assert per_topic[topic]["status"] == "ok", per_topic[topic]
        assert per_topic[topic]["n_train"] >= 5

    # Scored afterwards: every video, by zero-shot and by the run, the weak topic's probability.
    scores = VideoScore.objects.filter(video__dataset=dataset, model_run=run)
    assert scores.count() == len(videos)
    assert VideoScore.objects.filter(video__dataset=dataset, model_run__isnull=True).count() == len(videos)
    probabilities = list(scores.values_list("weak_topic_probability", flat=True))
    assert all(0 <= p <= 1 for p in probabilities)
    # Noise gets a lower probability for its weak topic than clean videos do.
    by_id = {s.video.external_id: s.weak_topic_probability for s in scores.select_related("video")}
    noisy = [p for vid, p in by_id.items() if truth[vid]["noise"]]
    clean = [p for vid, p in by_id.items() if not truth[vid]["noise"]]
    assert sum(noisy) / len(noisy) < sum(clean) / len(clean) - 0.1

    # Exports carry the scores.
    call_command("export_dataset", "--dataset", "learnable", "--split", "v1", "--format", "jsonl",
                 "--out", str(tmp_path / "export"), stdout=StringIO())  # fmt: skip
    row = json.loads((tmp_path / "export" / "train.jsonl").read_text().splitlines()[0])
    versions = [s["model"] for s in row["scores"]]
    assert versions[0].startswith("zero-shot/") and versions[1] == run.version
    assert 0 <= row["scores"][1]["weak_topic_probability"] <= 1
    assert len(row["scores"][1]["top_topics"]) == 5

    # Issue 16 on the same run: scoring ended with the model's noise estimate (calibrated on the
    # val/test verdicts), and ml.active simulates the verification orders on the stored weak-topic
    # probabilities and the generator's truth (workers of 60-95 % accuracy, two answers, USV's rule).
    stored = NoiseEstimate.objects.filter(dataset=dataset, estimator="model", method=model_method(run))
    whole = stored.get(scope="extrapolation")
    assert whole.interval == "bootstrap" and whole.low <= whole.rate <= whole.high
    assert whole.population == len(videos) - len({external_id for external_id, _ in answers})
    assert stored.filter(scope="topic").count() == len(SPEC.topics) + len(SPEC.unlearnable)
    ids = sorted(truth)
    noise = np.array([truth[i]["noise"] for i in ids])
    p = np.array([by_id[i] for i in ids])
    report = active_report(noise, p, budget=0.2, trials=200, coverage_budget=0.2, coverage_trials=200)
    print(json.dumps(report.as_dict(), indent=1))
    assert report.likely_noise_over_random >= 2.0, report.orders
    assert report.orders["likely_noise"].answers_to_find < report.orders["random"].answers_to_find
    assert report.coverage.covered >= 0.9 and report.coverage.covered_rule_rate >= 0.9, report.coverage
    assert report.coverage.refused == 0

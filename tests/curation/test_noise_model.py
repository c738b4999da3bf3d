"""The model's noise estimate beside the human one (issue 16): stored with bootstrap intervals per
scope; a human estimate over videos a model-driven order chose says it is biased and keeps to the
random-order videos; accepted model verdicts never enter the human estimate."""

from io import StringIO

import numpy as np
import pytest
from django.core.management import call_command
from django.utils import timezone
from rest_framework.test import APIClient

from curation.models import (
    AggregationRun,
    ExternalAnswer,
    ModelRun,
    NoiseEstimate,
    Split,
    SplitMember,
    VideoScore,
    VideoVerdict,
)
from curation.selectors_labels import aggregation_run_latest
from curation.services.labels.noise import NoiseEstimateError, noise_bias, noise_estimates_record
from curation.services.labels.noise_model import (
    noise_estimates_model,
    noise_estimates_model_refresh,
)
from curation.services.labels.verdicts import verdicts_aggregate
from tests.curation.labels_helpers import make_videos

pytestmark = pytest.mark.django_db

VIDEOS = 300
VERIFIED_SHARE = 0.4


class World:
    """300 videos (three topics, a frozen split), 21.7 % noise, a finished model run whose
    weak-topic probabilities are informative (noise lower), and two careful annotators who
    verified a random 40 %."""

    def __init__(self, dataset, verified_share: float = VERIFIED_SHARE):
        rng = np.random.default_rng(7)
        self.dataset = dataset
        self.videos = make_videos(dataset, VIDEOS)
        self.noise = rng.random(VIDEOS) < 0.217
        self.p = 1 / (1 + np.exp(-rng.normal(np.where(self.noise, -1.0, 1.5), 1.0)))
        self.split = Split.objects.create(dataset=dataset, name="v1", ratios={"train": 0.8, "test": 0.2})
        SplitMember.objects.bulk_create(
            SplitMember(split=self.split, video=v, subset="test" if i % 5 == 0 else "train")
            for i, v in enumerate(self.videos)
        )
        Split.objects.filter(id=self.split.id).update(frozen_at=timezone.now())
        self.run = ModelRun.objects.create(
            dataset=dataset, split=self.split, version=f"{dataset.slug}/v1/run-1-20260101000000",
            status=ModelRun.Status.DONE, finished_at=timezone.now(),
        )  # fmt: skip
        VideoScore.objects.bulk_create(
            VideoScore(video=v, model_version=self.run.version, model_run=self.run, topic_scores=[float(p)],
                       weak_topic_probability=float(p))
            for v, p in zip(self.videos, self.p, strict=True)
        )  # fmt: skip
        self.verified = rng.permutation(VIDEOS)[: round(verified_share * VIDEOS)]

    def rows(self, indices=None):
        rows = []
        for i in self.verified if indices is None else indices:
            answer = "no" if self.noise[i] else "yes"
            rows += [(self.videos[i].id, "user:1", answer, ""), (self.videos[i].id, "user:2", answer, "")]
        return rows


@pytest.fixture
def world(dataset):
    return World(dataset)


def by_scope(estimates):
    return {(e.scope, e.key): e for e in estimates}


def test_model_estimates_are_stored_per_scope_with_bootstrap_intervals(world):
    summary_human = verdicts_aggregate(dataset=world.dataset, rows=world.rows(), method="usv")
    model = noise_estimates_model(dataset=world.dataset, n_boot=400)
    got = by_scope(model.estimates)
    unverified = np.setdiff1d(np.arange(VIDEOS), world.verified)
    whole = got[("extrapolation", "")]
    assert whole.estimator == "model" and whole.method == f"model-run-{world.run.id}"
    assert whole.interval == "bootstrap" and whole.run_id == summary_human.run_id
    assert (whole.n, whole.noisy) == (len(world.verified), int(world.noise[world.verified].sum()))
    assert whole.population == len(unverified)
    assert whole.low <= whole.rate <= whole.high
    assert whole.expected_low <= whole.rate * whole.population <= whole.expected_high
    assert whole.low <= world.noise[unverified].mean() <= whole.high
    assert {k for s, k in got if s == "topic"} == {t.name for t in world.dataset.topics.order_by("id")[:3]}
    assert sum(e.population for (s, _), e in got.items() if s == "topic") == len(unverified)
    subsets = {k: e for (s, k), e in got.items() if s == "split"}
    assert set(subsets) == {"v1/train", "v1/test"}
    assert sum(e.population for e in subsets.values()) == len(unverified)
    assert len({e.created_at for e in model.estimates}) == 1
    assert "probably noise" in str(model) and model.calibration in ("platt", "isotonic")


def test_the_noise_endpoint_shows_the_model_estimate_beside_the_human_one(world, curator):
    verdicts_aggregate(dataset=world.dataset, rows=world.rows(), method="usv")
    noise_estimates_model(dataset=world.dataset, n_boot=200)
    client = APIClient()
    client.force_authenticate(curator)
    body = client.get(f"/api/v1/datasets/{world.dataset.slug}/noise/").json()
    assert body["bias"]["biased"] is False and body["bias"]["reason"] == ""
    assert body["model_run"] == {"id": world.run.id, "version": world.run.version}
    human = {(e["scope"], e["key"]): e for e in body["latest"]}
    model = {(e["scope"], e["key"]): e for e in body["model"]}
    assert human[("extrapolation", "")]["estimator"] == "human"
    assert model[("extrapolation", "")]["interval"] == "bootstrap"
    assert not any(e["biased"] for e in body["latest"] + body["model"])


def test_a_human_estimate_over_videos_a_model_order_chose_is_marked_biased_and_kept_to_random_ones(
    world, curator
):
    chosen = world.verified[:40]  # these 40 came from a likely_noise round, the rest at random
    selection = {world.videos[i].id: "likely_noise" for i in chosen}
    selection[world.videos[world.verified[50]].id] = "random"  # a random task is no bias
    summary = verdicts_aggregate(dataset=world.dataset, rows=world.rows(), method="usv", selection=selection)
    got = by_scope(summary.estimates)
    random_order = world.verified[40:]
    unbiased = got[("dataset", "")]
    assert (unbiased.n, unbiased.noisy) == (len(random_order), int(world.noise[random_order].sum()))
    biased = got[("dataset", "biased:likely_noise")]
    assert (biased.n, biased.noisy) == (len(world.verified), int(world.noise[world.verified].sum()))
    assert sum(e.n for (s, _), e in got.items() if s == "topic") == len(random_order)
    assert sum(e.n for (s, _), e in got.items() if s == "split") == len(random_order)
    assert ("extrapolation", "") not in got  # the unverified videos are no random remainder

    bias = noise_bias(summary.estimates)
    assert bias["biased"] and bias["orders"] == ["likely_noise"]
    assert (bias["chosen"], bias["judged"], bias["random_judged"]) == (40, 120, 80)
    assert bias["reason"].startswith(
        "biased: 40 of 120 judged videos were chosen by likely_noise order; their rate"
    )
    assert "over the 80 random-order videos only" in bias["reason"]

    client = APIClient()
    client.force_authenticate(curator)
    body = client.get(f"/api/v1/datasets/{world.dataset.slug}/noise/").json()
    assert body["bias"]["biased"] is True and body["bias"]["reason"] == bias["reason"]
    flagged = [e for e in body["latest"] if e["biased"]]
    assert [(e["scope"], e["key"], e["n"]) for e in flagged] == [("dataset", "biased:likely_noise", 120)]

    # The quality page shows the unbiased rate (80 random-order videos) and says why.
    from django.test import Client

    page = Client()
    page.force_login(curator)
    html = page.get("/quality/").content.decode()
    assert f"({unbiased.noisy} of 80 judged videos)" in html
    assert "biased: 40 of 120 judged videos were chosen by likely_noise order" in html


def test_when_no_video_was_chosen_at_random_there_is_no_unbiased_human_rate(world, client, curator):
    selection = {world.videos[i].id: "uncertain" for i in world.verified}
    summary = verdicts_aggregate(dataset=world.dataset, rows=world.rows(), method="usv", selection=selection)
    assert [(e.scope, e.key) for e in summary.estimates] == [("dataset", "biased:uncertain")]
    bias = noise_bias(summary.estimates)
    assert bias["random_judged"] == 0
    assert "No video was judged in random order, so there is no unbiased human estimate" in bias["reason"]
    client.force_login(curator)
    html = client.get("/quality/").content.decode()
    assert "no unbiased human estimate" in html and "No verified or noise verdicts yet" not in html


def test_accepted_model_verdicts_never_enter_the_human_estimate(world):
    summary = verdicts_aggregate(dataset=world.dataset, rows=world.rows(), method="usv")
    before = {k: (e.noisy, e.n, e.population) for k, e in by_scope(summary.estimates).items()}
    model_before = noise_estimates_model(dataset=world.dataset, n_boot=200)
    # Staff accept the model's pre-labels in bulk: verdicts of method "model" for every video,
    # noise where the model thinks so, verified videos included.
    accepted = AggregationRun.objects.create(dataset=world.dataset, method="model", requested="model")
    VideoVerdict.objects.bulk_create(
        VideoVerdict(video=v, dataset=world.dataset, run=accepted, method="model",
                     label="noise" if p < 0.5 else "verified", confidence=1.0, answers_used=0)
        for v, p in zip(world.videos, world.p, strict=True)
    )  # fmt: skip
    assert aggregation_run_latest(dataset=world.dataset).method == "usv"

    again = noise_estimates_record(dataset=world.dataset, method="usv")
    assert {k: (e.noisy, e.n, e.population) for k, e in by_scope(again).items()} == before
    with pytest.raises(NoiseEstimateError, match="'model' verdicts are not human verdicts"):
        noise_estimates_record(dataset=world.dataset, method="model")
    model_after = noise_estimates_model(dataset=world.dataset, n_boot=200)
    whole_before = by_scope(model_before.estimates)[("extrapolation", "")]
    whole_after = by_scope(model_after.estimates)[("extrapolation", "")]
    # Calibrated on the same human verdicts, over the same unverified videos (a model verdict
    # verifies nothing).
    assert (whole_after.n, whole_after.noisy, whole_after.population, whole_after.run_id) == (
        whole_before.n, whole_before.noisy, whole_before.population, whole_before.run_id,
    )  # fmt: skip
    assert whole_after.rate == pytest.approx(whole_before.rate)


def test_the_aggregate_command_adds_the_model_estimate_after_the_human_one(world):
    for i in world.verified:
        for worker in ("a", "b"):
            ExternalAnswer.objects.create(
                dataset=world.dataset, video=world.videos[i], worker=worker,
                label="no" if world.noise[i] else "yes", source="round.csv",
            )  # fmt: skip
    out = StringIO()
    call_command("aggregate", "--dataset", world.dataset.slug, "--method", "usv", stdout=out)
    text = out.getvalue()
    assert "Noise: " in text and "Model estimate: model " + world.run.version in text
    assert f"of the {VIDEOS - len(world.verified)} unverified videos" in text
    assert NoiseEstimate.objects.filter(estimator="model", scope="extrapolation").count() == 1


def test_the_aggregate_command_says_the_human_rate_is_biased_when_a_likely_noise_round_chose_videos(world):
    from annotator.models import Task

    chosen = world.verified[:40]
    Task.objects.bulk_create(
        Task(dataset=world.dataset, video=world.videos[i], kind="topic", topic=world.videos[i].weak_topic,
             needed=world.dataset.annotation_overlap, selected_by="likely_noise")
        for i in chosen
    )  # fmt: skip
    for i in world.verified:
        for worker in ("a", "b"):
            ExternalAnswer.objects.create(
                dataset=world.dataset, video=world.videos[i], worker=worker,
                label="no" if world.noise[i] else "yes", source="round.csv",
            )  # fmt: skip
    out = StringIO()
    call_command("aggregate", "--dataset", world.dataset.slug, "--method", "usv", stdout=out)
    text = out.getvalue()
    assert "Noise estimate biased: 40 of 120 judged videos were chosen by likely_noise order" in text
    random_noisy = int(world.noise[world.verified[40:]].sum())
    assert f"Noise: {random_noisy} of 80 judged random-order videos" in text
    assert "unverified videos about" not in text  # no human extrapolation from a biased sample
    assert "Model estimate: model " in text


def test_without_a_run_or_enough_human_verdicts_the_model_estimate_is_refused_and_nothing_is_stored(
    dataset, caplog
):
    with pytest.raises(NoiseEstimateError, match="has no finished model run"):
        noise_estimates_model(dataset=dataset)
    small = World(dataset)
    with pytest.raises(NoiseEstimateError, match="has no human verdicts to calibrate model"):
        noise_estimates_model(dataset=dataset)
    verdicts_aggregate(dataset=dataset, rows=small.rows(small.verified[:12]), method="usv")
    where = f"dataset {dataset.slug}, model {small.run.version}, usv verdicts"
    with pytest.raises(NoiseEstimateError, match=f"{where}: too few calibration videos: 12"):
        noise_estimates_model(dataset=dataset)
    caplog.set_level("INFO", logger="microcurate.noise")
    assert noise_estimates_model_refresh(dataset=dataset, run=small.run) is None
    assert "too few calibration videos" in caplog.text
    assert noise_estimates_model_refresh(dataset=dataset, run=None) is None
    other = ModelRun.objects.create(dataset=dataset, split=small.split, version="other", status="failed")
    with pytest.raises(NoiseEstimateError, match="model run other is not a finished run"):
        noise_estimates_model(dataset=dataset, run=other)
    assert not NoiseEstimate.objects.filter(estimator="model").exists()

"""Pre-labels (issue 16): the latest finished model's guess for every video, seen and filtered by
staff, accepted in bulk as verdicts of method `model` that never touch, replace or mix with the
human verdicts — nor the latest aggregation, the verdict counts, a split's noise or the human
noise estimate."""

from datetime import timedelta
from types import SimpleNamespace

import numpy as np
import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from curation.models import AggregationRun, ModelRun, NoiseEstimate, Split, Topic, VideoScore, VideoVerdict
from curation.selectors_labels import aggregation_run_latest, quality_overview, verdict_counts
from curation.services.labels.noise import noise_estimates_record
from curation.services.labels.verdicts import verdicts_aggregate
from curation.services.modelling.prelabels import (
    PrelabelError,
    prelabel_counts,
    prelabel_list,
    prelabels_accept,
)
from curation.services.modelling.scoring import _rows, _store
from curation.services.splits import SplitRefused, split_make, verdict_method_default
from tests.curation.labels_helpers import make_videos

pytestmark = pytest.mark.django_db

# Weak-topic probabilities of videos v1..v10 under the latest run (v10: no probability).
LATEST = [0.1, 0.9, 0.3, 0.8, 0.45, 0.6, 0.2, 0.95, 0.5, None]
LIKELY_NOISE = {"v1", "v3", "v5", "v7"}  # below one half
LIKELY_RIGHT = {"v2", "v4", "v6", "v8", "v9"}  # 0.5 itself is not "more likely wrong"


def _run(dataset, split, version: str, *, status=ModelRun.Status.DONE, age_hours: float = 0) -> ModelRun:
    finished = timezone.now() - timedelta(hours=age_hours) if status == ModelRun.Status.DONE else None
    return ModelRun.objects.create(
        dataset=dataset, split=split, version=version, status=status, finished_at=finished,
        topics=list(dataset.topics.order_by("id").values_list("id", flat=True)),
    )  # fmt: skip


def _score(video, version: str, run: ModelRun | None, p: float | None) -> VideoScore:
    topic = video.weak_topic
    return VideoScore(
        video=video, model_version=version, model_run=run, topic_scores=[p or 0.0],
        top_topics=[{"topic": topic.id, "name": topic.name, "score": p or 0.0}], weak_topic_probability=p,
        likely_noise=None if run is None or p is None else p < 0.5,
    )  # fmt: skip


def two_answers(videos, noise: set[int]):
    """Two No for the videos at the `noise` positions, two Yes for the others."""
    rows = []
    for i, video in enumerate(videos):
        answer = "no" if i in noise else "yes"
        rows += [(video.id, "user:1", answer, ""), (video.id, "user:2", answer, "")]
    return rows


@pytest.fixture
def scored(dataset):
    """Ten videos of three topics; humans verified v1-v4 (v1 and v2 noise, by USV's rule); an old
    run, the latest run and a newer failed one; zero-shot scores for every video too."""
    topics = [Topic.objects.create(dataset=dataset, name=f"t{i}") for i in range(3)]
    videos = make_videos(dataset, 10, topics)
    verdicts_aggregate(dataset=dataset, rows=two_answers(videos[:4], noise={0, 1}))
    split = Split.objects.create(dataset=dataset, name="v1", ratios={"train": 0.8, "test": 0.2})
    old = _run(dataset, split, "usv-sample/v1/run-1", age_hours=2)
    latest = _run(dataset, split, "usv-sample/v1/run-2", age_hours=1)
    _run(dataset, split, "usv-sample/v1/run-3", status=ModelRun.Status.FAILED)
    rows = [_score(v, latest.version, latest, p) for v, p in zip(videos, LATEST, strict=True)]
    rows += [_score(v, old.version, old, 1 - (p or 0.5)) for v, p in zip(videos, LATEST, strict=True)]
    rows += [_score(v, "zero-shot/minilm", None, 0.05) for v in videos]
    VideoScore.objects.bulk_create(rows)
    return SimpleNamespace(dataset=dataset, videos={v.external_id: v for v in videos}, latest=latest, old=old)


def _human_verdicts(dataset) -> list[tuple]:
    return sorted(
        VideoVerdict.objects.filter(dataset=dataset)
        .exclude(method="model")
        .values_list("video_id", "method", "label", "confidence", "answers_used", "run_id", "updated_at")
    )


def _estimates(estimates) -> list[tuple]:
    return sorted((e.scope, e.key, e.noisy, e.n, e.rate, e.low, e.high, e.population) for e in estimates)


def _external_ids(scores) -> set[str]:
    return {s.video.external_id for s in scores}


# --- the pre-label of a score ----------------------------------------------------------------


def test_a_model_runs_score_is_flagged_likely_noise_below_one_half_and_zero_shot_never(dataset):
    topics = [Topic.objects.create(dataset=dataset, name=f"t{i}") for i in range(2)]
    videos = make_videos(dataset, 4, topics)
    split = Split.objects.create(dataset=dataset, name="v1", ratios={"train": 0.8, "test": 0.2})
    run = _run(dataset, split, "usv-sample/v1/run-1")
    table = SimpleNamespace(video_ids=[v.id for v in videos])
    # Columns t0, t1; v4 has a weak topic the run does not know (no probability, no flag).
    probs = np.array([[0.3, 0.7], [0.5, 0.5], [0.8, 0.2], [0.6, 0.4]], dtype=np.float32)
    weak = {videos[0].id: topics[1].id, videos[1].id: topics[0].id, videos[2].id: topics[1].id}
    common = dict(table=table, weak=weak, topic_ids=[t.id for t in topics], names=["t0", "t1"], probs=probs,
                  branches_used=[{}] * 4, thumbs={})  # fmt: skip

    by_model = {r.video_id: r.likely_noise for r in _rows(**common, version=run.version, run=run)}
    by_zero_shot = {r.video_id: r.likely_noise for r in _rows(**common, version="zero-shot/x", run=None)}

    # p(weak) = 0.7, 0.5, 0.2, none
    assert [by_model[v.id] for v in videos] == [False, False, True, None]
    assert set(by_zero_shot.values()) == {None}

    # Rescoring overwrites the flag (it is one of the stored columns).
    _store(_rows(**common, version=run.version, run=run))
    flipped = dict(common, probs=probs[:, ::-1].copy())
    _store(_rows(**flipped, version=run.version, run=run))
    stored = dict(VideoScore.objects.filter(model_run=run).values_list("video_id", "likely_noise"))
    assert [stored[v.id] for v in videos] == [True, False, False, None]


# --- seeing and filtering them ---------------------------------------------------------------


def test_pre_labels_are_the_latest_finished_runs_scores_filtered_by_flag_and_weak_topic(scored):
    everything = prelabel_list(dataset=scored.dataset)
    assert len(everything) == 10 and {s.model_run_id for s in everything} == {scored.latest.id}
    assert _external_ids(prelabel_list(dataset=scored.dataset, likely_noise=True)) == LIKELY_NOISE
    assert _external_ids(prelabel_list(dataset=scored.dataset, likely_noise=False)) == LIKELY_RIGHT
    # make_videos gives video i the topic t(i % 3): t1 holds v1, v4, v7, v10.
    assert _external_ids(prelabel_list(dataset=scored.dataset, topic="t1")) == {"v1", "v4", "v7", "v10"}
    assert _external_ids(prelabel_list(dataset=scored.dataset, topic="t1", likely_noise=True)) == {"v1", "v7"}
    with pytest.raises(PrelabelError, match="dataset usv-sample has no topic 'nope'"):
        prelabel_list(dataset=scored.dataset, topic="nope")
    assert prelabel_counts(dataset=scored.dataset) == {
        "model_version": "usv-sample/v1/run-2", "run": scored.latest.id, "likely_noise": 4, "likely_right": 5,
        "none": 1, "accepted": 0,
    }  # fmt: skip


def test_staff_list_pre_labels_over_rest_paginated_and_filtered(scored, client, curator):
    client.force_login(curator)
    url = reverse("curation:prelabel-list", args=[scored.dataset.slug])

    page = client.get(url, {"likely_noise": "true", "limit": 2}).json()
    assert page["count"] == 4 and len(page["results"]) == 2 and page["next"]
    first = page["results"][0]
    assert first == {
        **first,
        "external_id": "v1", "weak_topic": "t1", "top_topic": "t1", "weak_topic_probability": 0.1,
        "likely_noise": True, "model_version": "usv-sample/v1/run-2", "accepted": False,
    }  # fmt: skip
    body = client.get(url, {"likely_noise": "false", "topic": "t2"}).json()
    assert {r["external_id"] for r in body["results"]} == {"v2", "v8"}

    refused = client.get(url, {"likely_noise": "maybe"})
    assert refused.status_code == 400 and "likely_noise" in refused.json()
    unknown = client.get(url, {"topic": "nope"})
    assert unknown.status_code == 400 and unknown.json()["detail"] == "dataset usv-sample has no topic 'nope'"
    assert client.get(reverse("curation:prelabel-list", args=["nope"])).status_code == 404


def test_a_dataset_without_a_trained_model_has_no_pre_labels_and_refuses_to_accept(dataset, client, curator):
    make_videos(dataset, 3)
    client.force_login(curator)
    body = client.get(reverse("curation:prelabel-list", args=[dataset.slug])).json()
    assert body["count"] == 0
    assert prelabel_counts(dataset=dataset) is None
    answer = client.post(
        reverse("curation:prelabel-accept", args=[dataset.slug]), {}, content_type="application/json"
    )
    assert answer.status_code == 400
    assert answer.json()["detail"].startswith("dataset usv-sample has no trained model")
    assert not AggregationRun.objects.filter(method="model").exists()


def test_staff_see_the_pre_label_on_the_filmstrip_and_filter_videos_by_it_in_the_admin(
    scored, client, curator
):
    client.force_login(curator)
    page = client.get(reverse("frontend:filmstrip", args=[scored.videos["v1"].id])).content.decode()
    assert "likely noise" in page and "usv-sample/v1/run-2" in page
    page = client.get(reverse("frontend:filmstrip", args=[scored.videos["v10"].id])).content.decode()
    assert "likely noise" not in page  # no probability under the latest run; zero-shot never flags

    changelist = reverse("admin:curation_video_changelist")
    for value, expected in (("noise", LIKELY_NOISE), ("right", LIKELY_RIGHT), ("none", {"v10"})):
        response = client.get(changelist, {"prelabel": value})
        shown = {v.external_id for v in response.context["cl"].queryset}
        assert shown == expected, value

    scores = client.get(reverse("admin:curation_videoscore_changelist"), {"likely_noise__exact": "1"})
    assert {(s.video.external_id, s.model_version) for s in scores.context["cl"].queryset} == {
        *((v, "usv-sample/v1/run-2") for v in LIKELY_NOISE),
        *((v, "usv-sample/v1/run-1") for v in ("v2", "v4", "v6", "v8")),  # 1 - p < 0.5 for the old run
    }


# --- accepting them --------------------------------------------------------------------------


def test_accepting_pre_labels_makes_model_verdicts_and_leaves_human_ones_untouched(scored, curator):
    human = _human_verdicts(scored.dataset)
    assert len(human) == 4

    summary = prelabels_accept(dataset=scored.dataset, user=curator)

    assert (summary.accepted, summary.verdicts, summary.replaced) == (9, {"verified": 5, "noise": 4}, 0)
    model = {
        v.video.external_id: (v.label, round(v.confidence, 6), v.answers_used, v.answers)
        for v in VideoVerdict.objects.filter(method="model").select_related("video")
    }
    assert model == {
        # confidence: the model's probability of the label it gives
        **{k: ("noise", round(1 - p, 6), 0, {}) for k, p in [("v1", 0.1), ("v3", 0.3), ("v5", 0.45),
                                                               ("v7", 0.2)]},
        **{k: ("verified", p, 0, {}) for k, p in [("v2", 0.9), ("v4", 0.8), ("v6", 0.6), ("v8", 0.95),
                                                  ("v9", 0.5)]},
    }  # fmt: skip
    # v1 and v2 keep their human verdicts (noise, noise) beside the model's (noise, verified).
    assert _human_verdicts(scored.dataset) == human
    run = AggregationRun.objects.get(id=summary.run_id)
    assert (run.method, run.requested, run.items, run.answers) == ("model", "model", 9, 0)
    assert run.worker_quality["model"] == {
        "version": "usv-sample/v1/run-2", "model_run": scored.latest.id, "accepted_by": "curator",
        "accepted_by_id": curator.id, "filter": {"likely_noise": None, "topic": None, "video_ids": 0},
        "verdicts": {"verified": 5, "noise": 4},
    }  # fmt: skip
    assert set(VideoVerdict.objects.filter(method="model").values_list("run_id", flat=True)) == {run.id}
    assert prelabel_counts(dataset=scored.dataset)["accepted"] == 9


def test_accepting_again_replaces_only_the_model_verdicts_of_the_videos_chosen(scored, curator):
    first = prelabels_accept(dataset=scored.dataset, likely_noise=True, user=curator)
    assert (first.accepted, first.verdicts) == (4, {"verified": 0, "noise": 4})
    human = _human_verdicts(scored.dataset)

    again = prelabels_accept(dataset=scored.dataset, topic="t1", user=curator)  # v1, v4, v7 (v10 none)

    assert (again.accepted, again.replaced, again.verdicts) == (3, 2, {"verified": 1, "noise": 2})
    runs = dict(VideoVerdict.objects.filter(method="model").values_list("video__external_id", "run_id"))
    assert runs == {"v1": again.run_id, "v4": again.run_id, "v7": again.run_id,
                    "v3": first.run_id, "v5": first.run_id}  # fmt: skip
    assert _human_verdicts(scored.dataset) == human


def test_accepting_by_video_ids_counts_those_without_a_pre_label_and_refuses_foreign_ids(
    scored, curator, open_dataset
):
    ids = [scored.videos[k].id for k in ("v1", "v2", "v10")]
    summary = prelabels_accept(dataset=scored.dataset, video_ids=ids, user=curator)
    assert (summary.accepted, summary.without_prelabel) == (2, 1)
    assert "1 video(s) have no pre-label from this model" in str(summary)

    stranger = make_videos(open_dataset, 1, prefix="x")[0]
    before = VideoVerdict.objects.count(), AggregationRun.objects.count()
    with pytest.raises(
        PrelabelError, match=rf"1 video id\(s\) are not videos of dataset usv-sample: {stranger.id}"
    ):
        prelabels_accept(
            dataset=scored.dataset, video_ids=[scored.videos["v3"].id, stranger.id], user=curator
        )
    assert (VideoVerdict.objects.count(), AggregationRun.objects.count()) == before


def test_a_filter_that_matches_nothing_accepts_nothing_and_makes_no_run(scored, curator):
    summary = prelabels_accept(dataset=scored.dataset, topic="t0", likely_noise=True, user=curator)
    # t0 holds v3, v6, v9: v3 is likely noise
    assert summary.accepted == 1
    none = prelabels_accept(dataset=scored.dataset, video_ids=[scored.videos["v10"].id], user=curator)
    assert (none.accepted, none.run_id, none.without_prelabel) == (0, None, 1)
    assert AggregationRun.objects.filter(method="model").count() == 1


def test_staff_accept_over_rest_and_a_crowdworker_is_refused(scored, client, curator, worker1):
    url = reverse("curation:prelabel-accept", args=[scored.dataset.slug])
    client.force_login(worker1)
    for forbidden in (
        client.post(url, {"likely_noise": True}, content_type="application/json"),
        client.get(reverse("curation:prelabel-list", args=[scored.dataset.slug])),
    ):
        assert forbidden.status_code == 403
    assert not VideoVerdict.objects.filter(method="model").exists()

    client.force_login(curator)
    answer = client.post(url, {"likely_noise": True, "topic": None}, content_type="application/json")
    assert answer.status_code == 200
    body = answer.json()
    assert (body["accepted"], body["verdicts"], body["model_version"]) == (
        4, {"verified": 0, "noise": 4}, "usv-sample/v1/run-2",
    )  # fmt: skip
    assert body["detail"].startswith("4 pre-label(s) of usv-sample/v1/run-2 accepted as model verdicts")
    listed = client.get(
        reverse("curation:prelabel-list", args=[scored.dataset.slug]), {"likely_noise": "true"}
    )
    assert {r["accepted"] for r in listed.json()["results"]} == {True}
    bad = client.post(url, {"videos": ["one"]}, content_type="application/json")
    assert bad.status_code == 400 and "videos" in bad.json()


def test_staff_accept_from_the_admin_lists_and_other_scores_are_left_alone(scored, client, curator):
    client.force_login(curator)
    v = scored.videos
    client.post(
        reverse("admin:curation_video_changelist"),
        {"action": "video_prelabels_accept_action", "_selected_action": [v["v1"].id, v["v2"].id]},
    )
    assert dict(VideoVerdict.objects.filter(method="model").values_list("video__external_id", "label")) == {
        "v1": "noise", "v2": "verified",
    }  # fmt: skip

    chosen = VideoScore.objects.filter(video__in=[v["v3"], v["v4"]]).exclude(model_version__startswith="zero")
    response = client.post(
        reverse("admin:curation_videoscore_changelist"),
        {"action": "score_prelabels_accept_action", "_selected_action": [s.id for s in chosen]},
        follow=True,
    )
    text = " ".join(str(m) for m in response.context["messages"])
    assert "2 pre-label(s) of usv-sample/v1/run-2 accepted" in text
    assert "2 selected score(s) are not pre-labels" in text  # the old run's scores of v3 and v4
    assert set(VideoVerdict.objects.filter(method="model").values_list("video__external_id", flat=True)) == {
        "v1", "v2", "v3", "v4",
    }  # fmt: skip


# --- model verdicts decide nothing human ----------------------------------------------------


def test_model_verdicts_change_neither_the_latest_aggregation_nor_counts_nor_the_human_estimate(
    scored, curator
):
    dataset = scored.dataset
    run, counts, method = aggregation_run_latest(dataset=dataset), verdict_counts(dataset=dataset), "usv"
    assert verdict_method_default(dataset=dataset) == method
    estimate = _estimates(noise_estimates_record(dataset=dataset, method=method))

    prelabels_accept(dataset=dataset, user=curator)

    assert AggregationRun.objects.filter(dataset=dataset).latest("created_at", "id").method == "model"
    assert aggregation_run_latest(dataset=dataset) == run
    assert verdict_counts(dataset=dataset) == counts
    assert counts["counts"]["noise"] == 2 and counts["counts"]["verified"] == 2
    assert verdict_method_default(dataset=dataset) == method
    assert quality_overview(dataset=dataset)["run"] == run
    assert _estimates(noise_estimates_record(dataset=dataset, method=method)) == estimate
    assert not NoiseEstimate.objects.filter(dataset=dataset, method="model").exists()


def test_a_split_made_after_acceptance_reads_human_noise_and_model_is_refused_as_its_method(
    scored, curator, client
):
    prelabels_accept(dataset=scored.dataset, user=curator)
    split = split_make(dataset=scored.dataset, name="v2", ratios="0.5,0.5", seed=0)
    # Humans call v1 and v2 noise; the model would have called v1, v3, v5 and v7 noise.
    assert split.verdict_method == "usv"
    assert set(split.members.filter(is_noise=True).values_list("video__external_id", flat=True)) == {
        "v1",
        "v2",
    }

    with pytest.raises(SplitRefused, match="verdict method 'model' is refused: accepted model pre-labels"):
        split_make(dataset=scored.dataset, name="v3", ratios="0.5,0.5", verdict_method="model")
    with pytest.raises(CommandError, match="never decide a split's noise, humans do"):
        call_command("make_split", "--dataset", scored.dataset.slug, "--name", "v4", "--method", "model")
    with pytest.raises(CommandError, match="unknown verdict method 'dss'"):
        call_command("make_split", "--dataset", scored.dataset.slug, "--name", "v4", "--method", "dss")
    client.force_login(curator)
    refused = client.post(
        reverse("curation:split-list", args=[scored.dataset.slug]),
        {"name": "v5", "method": "model"},
        content_type="application/json",
    )
    assert refused.status_code == 400
    assert not Split.objects.filter(name__in=["v3", "v4", "v5"]).exists()

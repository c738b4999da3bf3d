"""The dataset page's JSON sections kept in curation (pipeline, quality, frames, models), on a
small dataset made row by row, with the numbers worked out by hand."""

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from curation.models import AggregationRun, NoiseEstimate, StageStatus, Topic, Video
from curation.selectors_dashboard import failure_reason
from curation.services.datasets import dataset_create

pytestmark = pytest.mark.django_db

DONE, PENDING, RUNNING, FAILED, SKIPPED = "done", "pending", "running", "failed", "skipped"
STAGE_FIELDS = ("probe", "audio", "frames", "proxy", "ocr", "features", "score")


@pytest.fixture
def as_curator(curator):
    client = APIClient()
    client.force_authenticate(curator)
    return client


@pytest.fixture
def small(db):
    dataset = dataset_create(slug="dash", name="Dashboard")
    topics = {
        name: Topic.objects.create(dataset=dataset, name=name, macro_topic=macro)
        for name, macro in (("cats", "animals"), ("dogs", "animals"), ("cars", "vehicles"))
    }
    return dataset, topics


def make_video(dataset, external_id: str, topic=None, updated_ago: float | None = None, **fields) -> Video:
    statuses = {f"{stage}_status": fields.pop(stage, PENDING) for stage in STAGE_FIELDS}
    video = Video.objects.create(
        dataset=dataset, external_id=external_id, source=f"/originals/{external_id}.mp4", source_kind="file",
        title=f"video {external_id}", weak_topic=topic, **statuses, **fields,
    )  # fmt: skip
    if updated_ago is not None:
        Video.objects.filter(id=video.id).update(updated_at=timezone.now() - timedelta(minutes=updated_ago))
    return video


def get(client, dataset_slug: str, section: str, query: str = ""):
    return client.get(f"/api/v1/datasets/{dataset_slug}/dashboard/{section}/{query}")


SECTIONS = ("pipeline", "quality", "frames", "models", "annotation", "thumbnails")


def test_a_crowdworker_is_refused_every_section(worker1, small):
    client = APIClient()
    client.force_authenticate(worker1)
    for section in SECTIONS:
        assert get(client, "dash", section).status_code == 403, section


def test_an_unknown_dataset_is_named_in_the_404(as_curator):
    for section in SECTIONS:
        response = get(as_curator, "nope", section)
        assert response.status_code == 404, section
        assert response.json() == {"detail": "there is no dataset 'nope'"}


def test_a_bad_limit_is_refused_by_name(as_curator, small):
    response = get(as_curator, "dash", "quality", "?limit=0&offset=-1")
    assert response.status_code == 400
    assert set(response.json()) == {"limit", "offset"}


# Pipeline ----------------------------------------------------------------------------------------


def test_failure_reasons_keep_the_stage_and_first_clause():
    assert failure_reason("probe: no video stream: file a.mp4") == "probe: no video stream"
    assert failure_reason("probe: no video stream") == "probe: no video stream"
    assert failure_reason("ocr: 3 runs were lost (the worker died); not retried") == (
        "ocr: 3 runs were lost (the worker died); not retried"
    )
    assert failure_reason("") == "(no error recorded)"
    # A colon in brackets belongs to the clause (the probe's refusal of an audio-only file).
    assert failure_reason("probe: no video stream (streams: audio): x.wav") == (
        "probe: no video stream (streams: audio)"
    )


def test_pipeline_counts_each_stage_its_pace_time_left_and_failures_by_reason(
    as_curator, small, django_assert_max_num_queries
):
    dataset, topics = small
    now = timezone.now()
    everything = dict.fromkeys(("probe", "audio", "frames", "proxy", "features", "score"), DONE)
    v1 = make_video(
        dataset, "v1", **everything, ocr=SKIPPED, probed_at=now - timedelta(minutes=2), updated_ago=1
    )
    make_video(dataset, "v2", probe=DONE, audio=DONE, frames=RUNNING, probed_at=now - timedelta(minutes=30),
               updated_ago=30)  # fmt: skip
    v3 = make_video(dataset, "v3", probe=FAILED, error="probe: no video stream: file v3.mp4")
    v4 = make_video(dataset, "v4", probe=FAILED, error="probe: no video stream: file v4.mp4")
    v5 = make_video(dataset, "v5", probe=DONE, audio=DONE, frames=FAILED,
                    error="frames: could not decode: frame 3", probed_at=now - timedelta(minutes=5),
                    updated_ago=4)  # fmt: skip
    make_video(dataset, "v6")
    assert v1.id

    with django_assert_max_num_queries(3):
        body = get(as_curator, "dash", "pipeline").json()

    def row(stage, pending, running, done, failed, skipped, blocked, finished, eta, exact=False):
        return {
            "stage": stage, "pending": pending, "running": running, "done": done, "failed": failed,
            "skipped": skipped, "blocked": blocked, "remaining": pending - blocked + running,
            "throughput": {"window_minutes": 10.0, "finished": finished, "per_minute": finished / 10,
                           "exact": exact},
            "eta_minutes": eta,
        }  # fmt: skip

    assert body["videos"] == 6
    assert body["stages"] == [
        # probe: v6 left, v1 and v5 probed in the window (probed_at): 0.2 a minute, 1 left, 5 min
        row("probe", 1, 0, 3, 2, 0, 0, 2, 5.0, exact=True),
        # audio: v3 and v4 will never come (their probe failed); v1 and v5 changed in the window
        row("audio", 3, 0, 3, 0, 0, 2, 2, 5.0),
        # frames: v2 running + v6 left over 0.1 a minute
        row("frames", 3, 1, 1, 1, 0, 2, 1, 20.0),
        row("proxy", 5, 0, 1, 0, 0, 3, 1, 20.0),
        # nothing finished OCR in the window (v1 skipped it): no estimate of the time left
        row("ocr", 5, 0, 0, 0, 1, 3, 0, None),
        row("features", 5, 0, 1, 0, 0, 3, 1, 20.0),
        row("score", 5, 0, 1, 0, 0, 3, 1, 20.0),
    ]
    assert body["failed_videos"] == 3
    assert body["failures"] == [
        {"reason": "probe: no video stream", "stage": "probe", "count": 2,
         "videos": [{"id": v3.id, "external_id": "v3"}, {"id": v4.id, "external_id": "v4"}]},
        {"reason": "frames: could not decode", "stage": "frames", "count": 1,
         "videos": [{"id": v5.id, "external_id": "v5"}]},
    ]  # fmt: skip


def test_a_dataset_with_only_failures_has_nothing_left_and_no_time_to_wait(as_curator, small):
    dataset, _ = small
    for i in range(25):
        make_video(dataset, f"f{i:02d}", probe=FAILED, error=f"probe: ffprobe failed: exit {i}")
    body = get(as_curator, "dash", "pipeline").json()
    assert [(s["stage"], s["failed"], s["pending"], s["blocked"], s["remaining"], s["eta_minutes"])
            for s in body["stages"][:2]] == [
        ("probe", 25, 0, 0, 0, 0.0), ("audio", 0, 25, 25, 0, 0.0),
    ]  # fmt: skip
    (group,) = body["failures"]
    assert (group["reason"], group["count"], len(group["videos"])) == ("probe: ffprobe failed", 25, 20)
    assert group["videos"][0]["external_id"] == "f00"


def test_an_empty_dataset_gives_zeros_in_every_section(as_curator, small):
    pipeline = get(as_curator, "dash", "pipeline").json()
    assert pipeline["videos"] == 0 and pipeline["failures"] == [] and pipeline["failed_videos"] == 0
    assert {s["stage"]: (s["done"], s["remaining"], s["eta_minutes"]) for s in pipeline["stages"]} == {
        stage: (0, 0, 0.0) for stage in STAGE_FIELDS
    }
    quality = get(as_curator, "dash", "quality").json()
    assert quality["overall"] == {"human": None, "model": None}
    assert quality["unverified"] == {"human": None, "model": None}
    assert quality["bias"]["biased"] is False
    assert quality["history"] == [] and quality["disputed"] == [] and quality["macro_topics"] == []
    assert quality["agreement"] == {
        "run": None,
        "method": None,
        "kappa": None,
        "alpha": None,
        "paired_videos": 0,
    }
    # Topics with no verified video yet still have their row, with nothing measured.
    assert quality["topics"]["total"] == 3
    assert quality["topics"]["rows"][0] == {
        "key": "cars", "human": None, "model": None, "macro_topic": "vehicles", "kappa": None, "alpha": None,
        "answered_videos": 0,
    }  # fmt: skip
    frames = get(as_curator, "dash", "frames").json()
    zeros = dict.fromkeys(("dark", "blurry", "uniform", "near_duplicate", "flagged"), 0)
    assert frames == {
        "dataset": {"frames": 0, **zeros, "shares": dict.fromkeys(zeros, 0.0)},
        "topics": {"total": 0, "offset": 0, "limit": 50, "rows": []},
        "examples": {"dark": [], "blurry": [], "uniform": [], "near_duplicate": []},
    }
    models = get(as_curator, "dash", "models").json()
    assert models == {
        "runs": [], "learnability": {"run": None, "topics": [], "unlearnable": []}, "unlearnable": [],
    }  # fmt: skip


# Quality -----------------------------------------------------------------------------------------


def estimate(dataset, scope, key, noisy, n, low, high, *, estimator="human", stamp=None, **fields):
    row = NoiseEstimate.objects.create(
        dataset=dataset, estimator=estimator, method="usv" if estimator == "human" else "model-run-1",
        scope=scope, key=key, noisy=noisy, n=n, rate=noisy / n, low=low, high=high, **fields,
    )  # fmt: skip
    NoiseEstimate.objects.filter(id=row.id).update(created_at=stamp)
    return row


def test_quality_puts_human_and_model_rates_side_by_side_with_agreement_and_history(
    as_curator, small, django_assert_max_num_queries
):
    dataset, topics = small
    disputed = make_video(dataset, "d1", topic=topics["cats"])
    now = timezone.now()
    earlier, latest = now - timedelta(days=1), now
    estimate(dataset, "dataset", "", 3, 10, 0.1, 0.6, stamp=earlier)
    estimate(dataset, "dataset", "", 2, 10, 0.05, 0.5, stamp=latest)
    estimate(dataset, "topic", "cats", 1, 4, 0.05, 0.7, stamp=latest)
    estimate(dataset, "topic", "dogs", 1, 6, 0.03, 0.56, stamp=latest)
    estimate(dataset, "macro_topic", "animals", 2, 10, 0.05, 0.5, stamp=latest)
    estimate(dataset, "split", "v1/test", 1, 3, 0.06, 0.79, stamp=latest)
    estimate(dataset, "extrapolation", "", 2, 10, 0.05, 0.5, stamp=latest, population=5, expected_low=0,
             expected_high=3)  # fmt: skip
    estimate(dataset, "topic", "cats", 2, 5, 0.1, 0.8, estimator="model", stamp=latest)
    run = AggregationRun.objects.create(
        dataset=dataset, method="usv",
        agreement={
            "kappa": 0.5, "alpha": 0.45, "paired_videos": 10,
            "by_topic": {"cats": {"videos": 4, "kappa": 0.6, "alpha": 0.55}},
            "disputed": [{"video": disputed.id, "entropy": 1.0, "answers": 2, "counts": {"yes": 1, "no": 1}}],
        },
    )  # fmt: skip

    with django_assert_max_num_queries(10):
        body = get(as_curator, "dash", "quality").json()

    def human(noisy, n, low, high, method="usv"):
        return {"rate": noisy / n, "low": low, "high": high, "n": n, "noisy": noisy, "method": method,
                "interval": "wilson", "confidence": 0.95}  # fmt: skip

    assert body["overall"] == {"human": human(2, 10, 0.05, 0.5), "model": None}
    assert body["unverified"] == {
        "human": {**human(2, 10, 0.05, 0.5), "population": 5, "expected_low": 0, "expected_high": 3},
        "model": None,
    }
    assert body["topics"] == {
        "total": 3, "offset": 0, "limit": 50,
        "rows": [
            {"key": "cats", "human": human(1, 4, 0.05, 0.7), "model": human(2, 5, 0.1, 0.8, "model-run-1"),
             "macro_topic": "animals", "kappa": 0.6, "alpha": 0.55, "answered_videos": 4},
            {"key": "dogs", "human": human(1, 6, 0.03, 0.56), "model": None, "macro_topic": "animals",
             "kappa": None, "alpha": None, "answered_videos": 0},
            {"key": "cars", "human": None, "model": None, "macro_topic": "vehicles", "kappa": None,
             "alpha": None, "answered_videos": 0},
        ],
    }  # fmt: skip
    assert body["macro_topics"] == [{"key": "animals", "human": human(2, 10, 0.05, 0.5), "model": None}]
    assert body["splits"] == [{"key": "v1/test", "human": human(1, 3, 0.06, 0.79), "model": None}]
    assert [(h["rate"], h["estimator"], h["created_at"]) for h in body["history"]] == [
        (0.3, "human", earlier.isoformat()),
        (0.2, "human", latest.isoformat()),
    ]
    assert body["bias"]["biased"] is False
    assert body["agreement"] == {
        "run": run.id,
        "method": "usv",
        "kappa": 0.5,
        "alpha": 0.45,
        "paired_videos": 10,
    }
    assert body["disputed"] == [
        {"video": disputed.id, "entropy": 1.0, "answers": 2, "counts": {"yes": 1, "no": 1},
         "external_id": "d1", "title": "video d1", "topic": "cats", "verdict": None},
    ]  # fmt: skip


def test_thousands_of_topics_come_a_page_at_a_time_highest_rate_first(as_curator, db):
    dataset = dataset_create(slug="many", name="Many topics")
    Topic.objects.bulk_create(Topic(dataset=dataset, name=f"t{i:03d}") for i in range(1, 121))
    stamp = timezone.now()
    NoiseEstimate.objects.bulk_create(
        NoiseEstimate(dataset=dataset, method="usv", scope="topic", key=f"t{i:03d}", noisy=i, n=1000,
                      rate=i / 1000, low=i / 1000, high=i / 1000)
        for i in range(1, 121)
    )  # fmt: skip
    NoiseEstimate.objects.filter(dataset=dataset).update(created_at=stamp)

    body = get(as_curator, "many", "quality", "?limit=50&offset=100").json()["topics"]
    assert (body["total"], body["offset"], body["limit"], len(body["rows"])) == (120, 100, 50, 20)
    assert [r["key"] for r in body["rows"]] == [f"t{i:03d}" for i in range(20, 0, -1)]
    first = get(as_curator, "many", "quality").json()["topics"]
    assert (len(first["rows"]), first["rows"][0]["key"], first["rows"][-1]["key"]) == (50, "t120", "t071")


def test_stage_status_values_are_the_five_the_page_shows():
    assert StageStatus.values == [PENDING, RUNNING, DONE, FAILED, SKIPPED]

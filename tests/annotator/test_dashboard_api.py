"""The dataset page's sections over annotator data (annotation, thumbnails), on tasks, answers
and frames made row by row, with the numbers worked out by hand."""

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from annotator.models import AnnotatorProfile, Answer, Assignment, Task
from annotator.selectors_dashboard import dashboard_annotation
from curation.models import Frame, ThumbnailTruth, Topic, Video
from curation.services.datasets import dataset_create

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 1, 12, 30, tzinfo=UTC)


@pytest.fixture
def as_curator(curator):
    client = APIClient()
    client.force_authenticate(curator)
    return client


@pytest.fixture
def small(db):
    dataset = dataset_create(slug="dash", name="Dashboard")
    dataset.settings = {"annotation": {"min_gold_for_flag": 1}}
    dataset.save()
    topic = Topic.objects.create(dataset=dataset, name="cats")
    return dataset, topic


def make_video(dataset, external_id: str, **fields) -> Video:
    return Video.objects.create(
        dataset=dataset, external_id=external_id, source=f"/originals/{external_id}.mp4", source_kind="file",
        **{"frames_status": "done", **fields},
    )  # fmt: skip


def make_task(dataset, video, kind="topic", topic=None, **fields) -> Task:
    return Task.objects.create(dataset=dataset, video=video, kind=kind, topic=topic, **fields)


def answer(task, worker, *, at: datetime, choice="", frame=None, seconds=None, correct=None) -> Answer:
    slot = Assignment.objects.create(
        task=task, dataset=task.dataset, kind=task.kind, is_gold=task.is_gold, state="answered",
        worker=worker, leased_at=at, lease_expires_at=at + timedelta(minutes=10),
    )  # fmt: skip
    row = Answer.objects.create(
        task=task, assignment=slot, worker=worker, choice=choice, frame=frame, is_gold=task.is_gold,
        correct=correct, seconds=seconds,
    )  # fmt: skip
    Answer.objects.filter(id=row.id).update(created_at=at)
    return row


def test_annotation_gives_progress_pace_active_workers_and_worker_quality(
    small, worker1, worker2, django_user_model, django_assert_max_num_queries
):
    dataset, topic = small
    a1, a2, a3 = (make_video(dataset, f"a{i}") for i in (1, 2, 3))
    t1 = make_task(dataset, a1, topic=topic, needed=2, answered=2)
    t2 = make_task(dataset, a2, topic=topic, needed=2, answered=1)
    gold = make_task(dataset, a3, topic=topic, needed=0, is_gold=True, gold_answer="yes")
    thumb = make_task(dataset, a1, kind="thumbnail", needed=2)
    answer(t1, worker1, at=NOW - timedelta(hours=2), choice="yes", seconds=10)
    answer(t1, worker2, at=NOW - timedelta(minutes=5), choice="yes", seconds=20)
    answer(t2, worker1, at=NOW - timedelta(hours=2, minutes=10), choice="no", seconds=30)
    answer(gold, worker1, at=NOW - timedelta(hours=30), choice="yes", seconds=40, correct=True)
    answer(gold, worker2, at=NOW - timedelta(hours=2), choice="no", correct=False)
    # worker1 holds a lease now; worker3's lease ran out and their last answer is old: not active.
    Assignment.objects.create(task=thumb, dataset=dataset, kind="thumbnail", worker=worker1, leased_at=NOW,
                              lease_expires_at=NOW + timedelta(minutes=5))  # fmt: skip
    worker3 = django_user_model.objects.create_user("worker3")
    Assignment.objects.create(task=thumb, dataset=dataset, kind="thumbnail", worker=worker3,
                              leased_at=NOW - timedelta(hours=1),
                              lease_expires_at=NOW - timedelta(minutes=1))  # fmt: skip
    AnnotatorProfile.objects.create(user=worker2, is_paused=True)

    with django_assert_max_num_queries(15):
        body = dashboard_annotation(dataset=dataset, limit=50, offset=0, now=NOW)

    assert body["kinds"] == [
        {"kind": "topic", "tasks": 2, "gold_tasks": 1, "answered": 3, "needed": 4, "complete": 0,
         "verdicts": {"pending": 2}, "agreement": None, "median_seconds": 25.0},
        {"kind": "thumbnail", "tasks": 1, "gold_tasks": 0, "answered": 0, "needed": 2, "complete": 0,
         "verdicts": {"pending": 1}, "agreement": None, "median_seconds": None},
    ]  # fmt: skip
    assert (body["answers"], body["needed"], body["median_seconds"]) == (3, 6, 25.0)
    per_hour = body["answers_per_hour"]
    assert len(per_hour) == 24
    assert per_hour[0] == {"hour": "2026-02-28T13:00:00+00:00", "answers": 0}
    # 10:20 (t2) and the two 10:30 answers; 12:25 (t1, worker2); the gold answer 30 h ago is out.
    assert [(h["hour"][11:16], h["answers"]) for h in per_hour if h["answers"]] == [
        ("10:00", 3),
        ("12:00", 1),
    ]
    assert per_hour[-1]["hour"] == "2026-03-01T12:00:00+00:00"
    assert body["active_workers"] == 2
    # worker2: 0 of 1 gold right, flagged (min_gold_for_flag 1) and first; both agree on t1.
    assert body["flagged_workers"] == ["worker2"]
    assert body["workers"] == {
        "total": 2, "offset": 0, "limit": 50,
        "rows": [
            {"worker": worker2.id, "username": "worker2", "answers": 2, "gold_answered": 1, "gold_correct": 0,
             "gold_accuracy": 0.0, "peer_pairs": 1, "peer_agreement": 1.0, "flagged": True, "is_paused": True,
             "answers_excluded": False, "active": True},
            {"worker": worker1.id, "username": "worker1", "answers": 3, "gold_answered": 1, "gold_correct": 1,
             "gold_accuracy": 1.0, "peer_pairs": 1, "peer_agreement": 1.0, "flagged": False,
             "is_paused": False, "answers_excluded": False, "active": True},
        ],
    }  # fmt: skip
    page = dashboard_annotation(dataset=dataset, limit=1, offset=1, now=NOW)["workers"]
    assert (page["total"], [w["username"] for w in page["rows"]]) == (2, ["worker1"])


def test_annotation_endpoint_on_an_empty_dataset_gives_zeros(as_curator, small):
    body = as_curator.get("/api/v1/datasets/dash/dashboard/annotation/").json()
    assert [
        (k["kind"], k["tasks"], k["answered"], k["needed"], k["median_seconds"]) for k in body["kinds"]
    ] == [
        ("topic", 0, 0, 0, None),
        ("thumbnail", 0, 0, 0, None),
    ]
    assert (body["answers"], body["needed"], body["median_seconds"], body["active_workers"]) == (
        0,
        0,
        None,
        0,
    )
    assert [h["answers"] for h in body["answers_per_hour"]] == [0] * 24
    assert body["flagged_workers"] == []
    assert body["workers"] == {"total": 0, "offset": 0, "limit": 50, "rows": []}


def make_frames(video: Video, candidates: int, dropped: int = 0) -> list[Frame]:
    return [
        Frame.objects.create(
            video=video, index=i, timestamp=float(i), image=f"frames/{video.id}/{i}.jpg", width=160,
            height=90, brightness=0.5, sharpness=1.0, entropy=5.0, spread=0.5, descriptor=b"",
            is_dark=i >= candidates, cluster=i if i < candidates else None, is_candidate=i < candidates,
        )
        for i in range(candidates + dropped)
    ]  # fmt: skip


def test_thumbnails_give_candidates_similarity_and_agreement_by_clicks(
    as_curator, small, django_assert_max_num_queries
):
    dataset, _ = small
    # clicks: 500 (<1e3), 5_000 and 9_999 (1e3-1e4), 100_000 (>=1e5), unknown
    videos = [
        make_video(dataset, f"t{i}", clicks=c) for i, c in enumerate((500, 5_000, 9_999, 100_000, None))
    ]
    frames = [make_frames(v, n, dropped=1) for v, n in zip(videos, (8, 8, 12, 1, 3), strict=True)]
    make_video(dataset, "unsampled", frames_status="pending")  # frames not done: not in the histogram
    for video, video_frames, similarity in zip(videos, frames, (0.96, 0.93, 1.0, 0.02, None), strict=True):
        known = similarity is not None
        ThumbnailTruth.objects.create(
            video=video, frame=video_frames[0] if known else None, similarity=similarity,
            needs_check=known and similarity < 0.9, reason="" if known else "no posted thumbnail",
        )  # fmt: skip
    # <1e3: the crowd picked the truth; 1e3-1e4: one picked it, one did not; >=1e5: still pending;
    # unknown clicks: no ground-truth frame to compare with.
    picks = [(0, 0), (1, 1), (1, 0), (None, 0), (0, None)]
    for video, video_frames, (pick, truth) in zip(videos, frames, picks, strict=True):
        make_task(dataset, video, kind="thumbnail", needed=2,
                  verdict_frame=None if pick is None else video_frames[pick],
                  truth_frame=None if truth is None else video_frames[truth])  # fmt: skip
    gold_video = make_video(dataset, "gold", clicks=10)
    make_task(dataset, gold_video, kind="thumbnail", needed=0, is_gold=True, gold_answer="1")

    with django_assert_max_num_queries(5):
        body = as_curator.get("/api/v1/datasets/dash/dashboard/thumbnails/").json()

    assert body["candidates"] == {
        "histogram": [
            {"candidates": 0, "videos": 1},  # the gold video: frames done, none sampled
            {"candidates": 1, "videos": 1},
            {"candidates": 3, "videos": 1},
            {"candidates": 8, "videos": 2},
            {"candidates": 12, "videos": 1},
        ],
        "videos": 6,
        "typical_range": [7, 12],
        "typical": 3,
        "typical_share": 0.5,
    }
    similarity = body["similarity"]
    assert (similarity["n"], similarity["mean"], similarity["needs_check"], similarity["without_truth"]) == (
        4,
        round((0.96 + 0.93 + 1.0 + 0.02) / 4, 4),
        1,
        1,
    )
    assert len(similarity["bins"]) == 20
    assert similarity["bins"][0] == {"low": 0.0, "high": 0.05, "videos": 1}
    assert {b["low"]: b["videos"] for b in similarity["bins"] if b["videos"]} == {0.0: 1, 0.9: 1, 0.95: 2}
    assert body["agreement_by_clicks"] == [
        {"clicks": "<1e3", "tasks": 1, "decided": 1, "matches": 1, "agreement": 1.0},
        {"clicks": "1e3-1e4", "tasks": 2, "decided": 2, "matches": 1, "agreement": 0.5},
        {"clicks": "1e4-1e5", "tasks": 0, "decided": 0, "matches": 0, "agreement": None},
        {"clicks": ">=1e5", "tasks": 1, "decided": 0, "matches": 0, "agreement": None},
        {"clicks": "unknown", "tasks": 1, "decided": 0, "matches": 0, "agreement": None},
    ]
    assert body["agreement"] == round(2 / 3, 4)


def test_thumbnails_on_an_empty_dataset_give_zeros(as_curator, small):
    body = as_curator.get("/api/v1/datasets/dash/dashboard/thumbnails/").json()
    assert body["candidates"] == {
        "histogram": [], "videos": 0, "typical_range": [7, 12], "typical": 0, "typical_share": 0.0,
    }  # fmt: skip
    assert (body["similarity"]["n"], body["similarity"]["mean"], body["agreement"]) == (0, None, None)
    assert sum(b["videos"] for b in body["similarity"]["bins"]) == 0
    assert [b["tasks"] for b in body["agreement_by_clicks"]] == [0] * 5


def test_a_crowdworker_cannot_read_the_annotator_sections(worker1, small):
    client = APIClient()
    client.force_authenticate(worker1)
    for section in ("annotation", "thumbnails"):
        assert client.get(f"/api/v1/datasets/dash/dashboard/{section}/").status_code == 403
    assert timezone.now()  # the endpoints read the real clock; the selector test fixes it

"""Retrying failed pipeline stages from the dataset page: per failure reason (as the dashboard
groups them) and per video, on a small dataset made row by row, with exact counts."""

import pytest

from curation.models import DatasetAction, StageClaim, Video
from curation.services.datasets import dataset_create
from tests.curation.actions_helpers import client_for
from tests.curation.test_dashboard_api import make_video

pytestmark = pytest.mark.django_db

DONE, PENDING, FAILED = "done", "pending", "failed"
URL = "/api/v1/datasets/retry/pipeline/retry/"


@pytest.fixture
def failures(db):
    """no-stream ×2 and unreadable ×1 at probe; one frames failure; one video whose probe and
    OCR both failed (an OCR failure left from an older run); one video that is fine."""
    dataset = dataset_create(slug="retry", name="Retry")
    make = make_video
    videos = {
        "s1": make(dataset, "s1", probe=FAILED, error="probe: no video stream: a.mp4"),
        "s2": make(dataset, "s2", probe=FAILED, error="probe: no video stream: b.mp4"),
        "u1": make(dataset, "u1", probe=FAILED, error="probe: cannot read"),
        "f1": make(dataset, "f1", probe=DONE, audio=DONE, frames=FAILED, error="frames: decode error: x"),
        "po": make(dataset, "po", probe=FAILED, ocr=FAILED, error="probe: cannot read"),
        "ok": make(dataset, "ok", probe=DONE, audio=DONE, frames=DONE, proxy=DONE, ocr=DONE),
    }
    return dataset, videos


def statuses(video: Video) -> tuple[str, str, str]:
    video.refresh_from_db()
    return video.probe_status, video.frames_status, video.ocr_status


def test_a_reason_retries_exactly_its_videos_and_queues_their_stage(
    failures, curator, django_capture_on_commit_callbacks
):
    dataset, v = failures
    StageClaim.objects.create(video=v["s1"], stage="probe", claimed_at="2026-01-01T00:00:00Z", attempts=3)
    with django_capture_on_commit_callbacks() as queued:
        response = client_for(curator).post(
            URL, {"stage": "probe", "reason": "probe: no video stream"}, format="json"
        )
    assert response.status_code == 202, response.content
    body = response.json()
    assert (body["retried"], body["videos"], body["stages"]) == (2, [v["s1"].id, v["s2"].id], {"probe": 2})
    assert body["message"] == "2 videos queued again (probe 2)"
    assert body["action"]["kind"] == "retry" and body["action"]["state"] == "done"
    assert body["action"]["message"] == body["message"]
    assert body["action"]["params"] == {
        "stage": "probe",
        "reason": "probe: no video stream",
        "video_ids": None,
    }
    assert len(queued) == 2  # one probe task per video, sent once the reset commits
    assert statuses(v["s1"]) == statuses(v["s2"]) == (PENDING, PENDING, PENDING)
    assert statuses(v["u1"])[0] == FAILED and statuses(v["f1"])[1] == FAILED
    assert not StageClaim.objects.exists()  # a fresh start: its count of lost runs too

    again = client_for(curator).post(
        URL, {"stage": "probe", "reason": "probe: no video stream"}, format="json"
    )
    assert again.status_code == 400
    assert again.json() == {
        "detail": "no failed stage at or before probe of retry has the reason 'probe: no video stream'"
    }


def test_a_reason_of_a_later_stage_retries_only_that_stage(failures, curator):
    _, v = failures
    response = client_for(curator).post(
        URL, {"stage": "frames", "reason": "frames: decode error"}, format="json"
    )
    assert (response.json()["retried"], response.json()["stages"]) == (1, {"frames": 1})
    assert statuses(v["f1"]) == (DONE, PENDING, PENDING)


def test_per_video_every_failed_stage_is_reset_and_the_earliest_queued(
    failures, curator, django_capture_on_commit_callbacks
):
    _, v = failures
    with django_capture_on_commit_callbacks() as queued:
        response = client_for(curator).post(URL, {"video_ids": [v["po"].id, v["f1"].id]}, format="json")
    assert response.status_code == 202, response.content
    body = response.json()
    assert (body["retried"], body["videos"]) == (2, sorted([v["po"].id, v["f1"].id]))
    assert body["stages"] == {"probe": 1, "frames": 1} and len(queued) == 2
    assert statuses(v["po"]) == (PENDING, PENDING, PENDING)
    assert statuses(v["f1"]) == (DONE, PENDING, PENDING)


def test_a_video_whose_earlier_stage_failed_gets_that_stage_retried_not_the_one_asked(failures, curator):
    _, v = failures
    response = client_for(curator).post(URL, {"video_ids": [v["po"].id], "stage": "frames"}, format="json")
    assert response.status_code == 202, response.content
    assert response.json()["stages"] == {"probe": 1}
    assert statuses(v["po"]) == (PENDING, PENDING, FAILED)  # OCR comes after frames: left as it is


def test_a_reason_and_videos_together_retry_those_of_them_with_the_reason(failures, curator):
    _, v = failures
    body = {"reason": "probe: cannot read", "video_ids": [v["u1"].id, v["s1"].id]}
    response = client_for(curator).post(URL, body, format="json")
    assert (response.json()["retried"], response.json()["videos"]) == (1, [v["u1"].id])


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({"stage": "nope", "reason": "probe: cannot read"},
         "unknown stage 'nope'; stages: probe, audio, frames, proxy, ocr, features, score"),
        ({"stage": "probe", "reason": "probe: gremlins"},
         "no failed stage at or before probe of retry has the reason 'probe: gremlins'"),
        ({"video_ids": ["OK"]}, None),
    ],
)  # fmt: skip
def test_an_unknown_stage_or_reason_is_a_400_naming_it_and_nothing_is_reset(failures, curator, body, detail):
    _, v = failures
    if body.get("video_ids") == ["OK"]:
        body = {"video_ids": [v["ok"].id]}
        detail = f"videos {v['ok'].id} of retry have no failed stage"
    response = client_for(curator).post(URL, body, format="json")
    assert response.status_code == 400
    assert response.json() == {"detail": detail}
    assert Video.objects.filter(probe_status=FAILED).count() == 4
    action = DatasetAction.objects.get()
    assert (action.state, action.message) == ("failed", detail)


def test_a_video_of_another_dataset_is_refused_and_not_touched(failures, curator):
    other = dataset_create(slug="other", name="Other")
    theirs = make_video(other, "t1", probe=FAILED, error="probe: cannot read")
    _, v = failures
    response = client_for(curator).post(URL, {"video_ids": [v["u1"].id, theirs.id, 999999]}, format="json")
    assert response.status_code == 400
    assert response.json() == {"detail": f"dataset retry has no video {theirs.id}, 999999"}
    assert statuses(theirs)[0] == FAILED and statuses(v["u1"])[0] == FAILED


def test_a_retry_needs_a_reason_or_videos(failures, curator):
    client = client_for(curator)
    assert client.post(URL, {"stage": "probe"}, format="json").json() == {
        "non_field_errors": ["give a stage and a reason, or video_ids"]
    }
    assert client.post(URL, {"video_ids": []}, format="json").json() == {
        "detail": "video_ids is empty: name at least one video"
    }

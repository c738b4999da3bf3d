"""The demo as a first impression (issue 18), the pages' side: a worker with nothing to do is told
that tasks are being prepared and when; a grid of 10+ candidates is answerable by keyboard; the
video admin plays the proxy and keeps probe results read-only; a filmstrip says why a probe
failed; the favicon exists."""

import json
import re
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.staticfiles import finders
from django.contrib.staticfiles.views import serve
from django.test import RequestFactory
from django.utils import timezone

from curation.models import StageStatus, Video

pytestmark = pytest.mark.django_db
NEXT = "/api/v1/annotation/next/"
JS = Path(__file__).resolve().parents[2] / "frontend" / "static" / "frontend" / "js" / "annotate_text.js"


def _video(dataset, n, **fields):
    return Video.objects.create(
        dataset=dataset, external_id=f"v{n}", source=f"https://videos.example.com/{n}.mp4", source_kind="url",
        **fields,
    )  # fmt: skip


def _next(client, **body):
    return client.post(NEXT, body, content_type="application/json")


def test_a_worker_with_no_task_learns_how_many_videos_are_still_being_processed(client, dataset, worker1):
    for n in range(3):
        _video(dataset, n)  # ingested, nothing run yet
    _video(dataset, 3, probe_status=StageStatus.DONE, frames_status=StageStatus.RUNNING)
    _video(dataset, 4, probe_status=StageStatus.FAILED, error="probe: not a video")  # never coming
    _video(dataset, 5, probe_status=StageStatus.DONE, frames_status=StageStatus.FAILED)  # nor this one
    client.force_login(worker1)

    response = _next(client, dataset=dataset.slug)

    assert response.status_code == 200
    # No proxy finished in the last ten minutes: no rate, so no estimate rather than a guess.
    assert response.json() == {"task": None, "preparing": {"videos": 4, "eta_minutes": None}}


def test_the_estimate_follows_the_rate_proxies_finished_at_over_the_last_ten_minutes(
    client, dataset, worker1
):
    for n in range(5):
        _video(dataset, n)
    done = {f"{s}_status": StageStatus.DONE for s in ("probe", "audio", "frames", "proxy")}
    for n in range(5, 10):
        _video(dataset, n, **done)  # updated now: five proxies in ten minutes, 0.5 a minute
    old = _video(dataset, 10, **done)
    Video.objects.filter(id=old.id).update(updated_at=timezone.now() - timedelta(minutes=11))
    client.force_login(worker1)

    # (The five done videos have no tasks, so there is still nothing to hand out.)
    assert _next(client).json() == {"task": None, "preparing": {"videos": 5, "eta_minutes": 10}}


def test_no_work_and_nothing_coming_still_answers_204(client, dataset, worker1):
    _video(dataset, 0, probe_status=StageStatus.FAILED)
    client.force_login(worker1)
    assert _next(client, dataset=dataset.slug).status_code == 204


def test_a_served_task_is_not_held_back_by_videos_still_being_processed(
    client, dataset, worker1, ready_video
):
    from annotator.services.creation import tasks_create

    ready_video()
    _video(dataset, 99)
    tasks_create(dataset=dataset, kind="topic")
    client.force_login(worker1)
    body = _next(client, dataset=dataset.slug).json()
    assert body["kind"] == "topic" and "preparing" not in body


def _node(script: str):
    done = subprocess.run(
        ["node", "--input-type=module", "-e", f"import * as m from {json.dumps(JS.as_uri())};\n{script}"],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_the_worker_page_says_tasks_are_being_prepared_and_when():
    said = _node(
        "console.log(JSON.stringify([m.noTaskMessage({videos: 226, eta_minutes: 9}),"
        " m.noTaskMessage({videos: 1, eta_minutes: null}), m.noTaskMessage(null)]))"
    )
    assert said == [
        "Tasks are being prepared: 226 videos are still being processed "
        "(about 9 minutes at the current rate). This page checks for them by itself.",
        "Tasks are being prepared: 1 video is still being processed. This page checks for them by itself.",
        "No more tasks for now. Thank you! Reload the page later to check for new work.",
    ]


def test_a_grid_of_more_than_nine_candidates_is_answerable_by_keyboard():
    keys, picked = _node(
        "const frames = Array.from({length: 14}, (_, i) => ({id: 100 + i}));"
        "console.log(JSON.stringify([m.FRAME_KEYS.slice(0, 14),"
        " ['1', '9', '0', 'a', 'd', 'e', 'm', 'z'].map((k) => (m.frameForKey(frames, k) || {id: null}).id)]))"
    )
    assert keys == list("1234567890abcd")
    assert picked == [100, 108, 109, 110, 113, None, None, None]  # 'e' would be the 15th; M, Z are taken
    keys_used_elsewhere = set("ynuzm")
    assert not keys_used_elsewhere & set(_node("console.log(JSON.stringify(m.FRAME_KEYS))"))


def test_candidates_are_at_least_240_pixels_wide():
    css = finders.find("frontend/css/site.css")
    rule = re.search(r"\.annotate \.frames \{[^}]*\}", Path(css).read_text()).group(0)
    assert "minmax(min(240px, 100%), 1fr)" in rule


def test_the_video_admin_plays_the_proxy_and_probe_results_are_read_only(client, curator, ready_video):
    video = ready_video(duration=2.0, width=160, height=284, video_codec="h264")
    client.force_login(curator)
    page = client.get(f"/admin/curation/video/{video.id}/change/").content.decode()

    player = re.search(r'<video class="proxy" src="([^"]+)"', page)
    assert player, "no player on the change page"
    played = client.get(player.group(1).replace("&amp;", "&"))
    assert played.status_code == 200 and played["Content-Type"] == "video/mp4"
    assert 'name="duration"' not in page and 'name="video_codec"' not in page and 'name="width"' not in page

    form = {"dataset": video.dataset_id, "external_id": video.external_id, "source": video.source,
            "source_kind": video.source_kind, "duration": "99", "width": "9999", "rotation": "90",
            "probe_status": video.probe_status, "frames_status": video.frames_status,
            "proxy_status": video.proxy_status, "ocr_status": video.ocr_status,
            "audio_status": video.audio_status, "features_status": video.features_status,
            "score_status": video.score_status, "subtitle-TOTAL_FORMS": "0",
            "subtitle-INITIAL_FORMS": "0"}  # fmt: skip
    saved = client.post(f"/admin/curation/video/{video.id}/change/", {**form, "title": "edited"})
    assert saved.status_code == 302, saved.context["errors"]
    video.refresh_from_db()
    assert video.title == "edited"  # the form was saved, the probe results were not taken from it
    assert (video.duration, video.width, video.rotation) == (2.0, 160, 0)


def test_a_video_without_a_proxy_says_so_instead_of_a_player(client, curator, ready_video):
    video = ready_video(proxy_status=StageStatus.PENDING)
    client.force_login(curator)
    page = client.get(f"/admin/curation/video/{video.id}/change/").content.decode()
    assert '<video class="proxy"' not in page
    assert "no playable copy yet (proxy stage: pending)" in page


def test_the_filmstrip_of_a_video_whose_probe_failed_says_why(client, curator, dataset):
    video = _video(dataset, 0, probe_status=StageStatus.FAILED, error="probe: no video stream in the file")
    client.force_login(curator)
    page = client.get(f"/videos/{video.id}/frames/").content.decode()
    assert "No frames: probe failed: probe: no video stream in the file" in page
    assert "No frames yet" not in page


def test_the_filmstrip_of_a_video_still_in_the_pipeline_says_frames_are_pending(client, curator, dataset):
    video = _video(dataset, 0)
    client.force_login(curator)
    page = client.get(f"/videos/{video.id}/frames/").content.decode()
    assert "No frames yet (frames stage: pending)" in page


def test_every_page_links_a_favicon_that_is_served(client, curator):
    client.force_login(curator)
    page = client.get("/").content.decode()
    link = re.search(r'<link rel="icon" href="/static/([^"]+)" type="image/svg\+xml">', page)
    assert link, "no favicon link"
    response = serve(RequestFactory().get(f"/static/{link.group(1)}"), link.group(1), insecure=True)
    assert response.status_code == 200
    assert b"<svg" in b"".join(response.streaming_content)

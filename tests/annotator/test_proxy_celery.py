"""The proxy stage through a real Celery worker on Redis, queued after probe and frames."""

import time

import pytest

from curation.models import Video
from curation.services.ingest import video_ingest

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.celery_worker]


def test_a_queued_video_gets_its_proxy_from_the_worker_after_probe_and_frames(
    celery_worker_process, dataset, shared_videos, write_manifest
):
    manifest = write_manifest([{"video": str(shared_videos / "mmaction2_tests_test.avi"), "id": "avi"}])
    video_ingest(dataset=dataset, path=manifest, pipeline="queue")
    video = Video.objects.get()

    deadline = time.monotonic() + 120
    while (
        Video.objects.get(id=video.id).proxy_status in ("pending", "running") and time.monotonic() < deadline
    ):
        if Video.objects.filter(id=video.id, error__gt="").exists():
            break
        time.sleep(0.3)

    video.refresh_from_db()
    assert (video.probe_status, video.frames_status, video.proxy_status, video.error) == (
        "done",
        "done",
        "done",
        "",
    )
    assert video.proxy_path == f"proxies/{dataset.id}/{video.id}.mp4"

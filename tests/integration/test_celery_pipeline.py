"""The pipeline through a real Celery worker process, Redis broker and PostgreSQL."""

import time

import pytest

from curation.models import StageStatus, Video
from curation.services.ingest import video_ingest
from curation.services.pipeline import pipeline_enqueue
from tests.waiting import wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.celery_worker]


def test_ingest_queues_each_new_video_and_a_worker_probes_it(
    celery_worker_process, dataset, shared_videos, write_manifest
):
    manifest = write_manifest(
        [
            {"video": str(shared_videos / "jsonize_iphone_rotated_portrait.mov"), "id": "iphone"},
            {"video": str(shared_videos / "mmaction2_tests_test.wav"), "id": "audio-only"},
        ]
    )
    video_ingest(dataset=dataset, path=manifest, pipeline="queue")

    wait_for(lambda: not Video.objects.filter(probe_status__in=["pending", "running"]).exists())

    iphone = Video.objects.get(external_id="iphone")
    audio = Video.objects.get(external_id="audio-only")
    assert (iphone.probe_status, iphone.display_width, iphone.display_height) == ("done", 320, 568)
    assert (audio.probe_status, audio.error) == ("failed", "probe: no video stream (streams: audio)")


def test_a_duplicate_delivery_does_the_work_once(
    celery_worker_process, dataset, shared_videos, write_manifest
):
    manifest = write_manifest([{"video": str(shared_videos / "imageio_realshort.mp4"), "id": "short"}])
    video_ingest(dataset=dataset, path=manifest, pipeline="queue")
    video = Video.objects.get()
    wait_for(lambda: Video.objects.get(id=video.id).probe_status == StageStatus.DONE)
    probed_at = Video.objects.get(id=video.id).probed_at

    for _ in range(3):
        pipeline_enqueue(video_id=video.id)  # redelivered or repeated messages
    time.sleep(2)

    assert Video.objects.get(id=video.id).probed_at == probed_at

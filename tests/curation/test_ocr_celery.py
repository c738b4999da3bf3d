"""The OCR task through a real Celery worker process with EasyOCR loaded, and its queue."""

import os
import subprocess
import sys
import time

import pytest
from django.conf import settings

from config.celery import app
from curation.models import StageStatus, SubtitleCue, Video
from curation.services.pipeline import pipeline_reset
from curation.tasks import video_ocr_task
from tests.conftest import ROOT
from tests.curation.ocr_helpers import processed_clips
from tests.fixtures.synth_subtitles import TextSpan
from tests.processes import database_url

# A queue of its own: the suite's shared worker consumes `ocr` with OCR turned off.
QUEUE = "ocr-integration"


def test_the_ocr_task_is_routed_to_the_ocr_queue():
    route = app.amqp.router.route({}, video_ocr_task.name, args=(1,), kwargs={})
    assert route["queue"].name == "ocr"


@pytest.fixture(scope="module")
def clip(django_db_setup, django_db_blocker, tmp_path_factory):
    media = tmp_path_factory.mktemp("ocr-celery-media")
    clips = {"hello.mp4": {"seconds": 3, "subtitles": [TextSpan(1, 3, "Good morning everyone")]}}
    with django_db_blocker.unblock(), processed_clips(media, "ocr-celery", clips, ocr=False) as videos:
        yield media, videos["hello.mp4"]


@pytest.fixture(scope="module")
def ocr_worker(clip, tmp_path_factory):
    if not settings.CELERY_BROKER_URL.startswith("redis://"):
        pytest.fail("integration tests need CELERY_BROKER_URL=redis://… (make test sets it)")
    env = dict(
        os.environ, MICROCURATE_OCR_ENABLED="1", MICROCURATE_MODELS_ENABLED="0", MEDIA_ROOT=str(clip[0])
    )
    env["DATABASE_URL"] = database_url()
    log = tmp_path_factory.mktemp("ocr-worker") / "worker.log"
    with open(log, "w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", QUEUE, "--pool", "solo",
             "--loglevel", "INFO", "--without-gossip", "--without-mingle", "-n", "ocr-it@%h"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    yield process, log
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.mark.celery_worker
@pytest.mark.django_db(transaction=True)
def test_a_worker_reads_the_subtitles_and_a_duplicate_delivery_does_nothing(clip, ocr_worker):
    video = clip[1]
    assert Video.objects.get(id=video.id).ocr_status == StageStatus.SKIPPED  # OCR off in this process
    pipeline_reset(dataset_id=video.dataset_id, stage_name="ocr", statuses=[StageStatus.SKIPPED])
    first = video_ocr_task.apply_async(args=[video.id], queue=QUEUE)
    second = video_ocr_task.apply_async(args=[video.id], queue=QUEUE)
    deadline = time.monotonic() + 240
    while not (first.ready() and second.ready()):
        if ocr_worker[0].poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"the OCR worker did not finish:\n{ocr_worker[1].read_text()[-3000:]}")
        time.sleep(0.5)
    # The second delivery found the stage claimed or done and did nothing.
    assert sorted([first.get(), second.get()]) == [StageStatus.DONE, StageStatus.DONE]
    video = Video.objects.get(id=video.id)
    assert video.ocr_status == StageStatus.DONE, video.error
    assert list(SubtitleCue.objects.filter(video=video).values_list("start", "end", "text")) == [
        (1.0, 3.0, "Good morning everyone")
    ]

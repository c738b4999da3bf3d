"""A Celery worker killed with SIGKILL mid-stage: every video still ends done or failed, and the
frames on disk are those of the frame rows. Real worker processes (prefork, one child), Redis,
PostgreSQL and ffmpeg; ffmpeg reads at the clip's own pace (-re) so a stage lasts long enough to
be killed in the middle."""

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psutil
import pytest
import redis
from django.conf import settings

from curation.media_store import video_frames_folder
from curation.models import Frame, StageClaim, StageStatus, Video
from curation.services.datasets import dataset_create
from curation.services.ingest import video_ingest
from curation.services.pipeline import STAGES
from tests.conftest import ROOT
from tests.processes import database_url

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.celery_worker]
FINISHED = (StageStatus.DONE, StageStatus.FAILED, StageStatus.SKIPPED)


class Workers:
    """`celery worker -B` processes of one test, on Redis keys of their own (a worker started by
    another test on the same database cannot take these messages)."""

    def __init__(self, tmp_path: Path, media: Path, **env):
        if not settings.CELERY_BROKER_URL.startswith("redis://"):
            pytest.fail("needs CELERY_BROKER_URL=redis://… (make test sets it)")
        slow_ffmpeg = tmp_path / "slow-ffmpeg"
        slow_ffmpeg.write_text('#!/bin/sh\nexec ffmpeg -re "$@"\n')
        slow_ffmpeg.chmod(0o755)
        self.prefix = f"killed-{uuid.uuid4().hex[:8]}:"
        self.tmp_path = tmp_path
        self.env = {
            **os.environ,
            "DATABASE_URL": database_url(),
            "MEDIA_ROOT": str(media),
            "MICROCURATE_FFMPEG": str(slow_ffmpeg),
            "MICROCURATE_OCR_ENABLED": "0",
            "MICROCURATE_MODELS_ENABLED": "0",
            "CELERY_BROKER_KEY_PREFIX": self.prefix,
            **env,
        }
        self.processes: list[subprocess.Popen] = []

    def start(self) -> subprocess.Popen:
        log = self.tmp_path / f"worker-{len(self.processes)}.log"
        with open(log, "w") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "config", "worker", "-B", "-Q", "media,ocr,ml",
                 "--pool", "prefork", "--concurrency", "1", "--loglevel", "INFO", "--without-gossip",
                 "--without-mingle", "--without-heartbeat",
                 "--schedule", str(self.tmp_path / f"beat-{len(self.processes)}")],
                cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        process.log = log
        self.processes.append(process)
        deadline = time.monotonic() + 30
        while "ready." not in log.read_text():
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the Celery worker did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.2)
        return process

    def queue_pipeline(self, dataset_slug: str) -> None:
        done = subprocess.run(
            [sys.executable, "manage.py", "process_videos", "--dataset", dataset_slug],
            cwd=ROOT, env=self.env, capture_output=True, text=True,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr

    def logs(self) -> str:
        return "\n".join(f"--- {p.log.name}\n{p.log.read_text()[-4000:]}" for p in self.processes)

    def stop(self) -> None:
        for process in self.processes:  # the test is over: nothing left to shut down gently
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
        for key in client.scan_iter(f"{self.prefix}*"):
            client.delete(key)


@pytest.fixture
def workers(tmp_path, media_dir):
    started = []

    def make(**env) -> Workers:
        started.append(Workers(tmp_path, media_dir, **env))
        return started[-1]

    yield make
    for group in started:
        group.stop()


@pytest.fixture
def clips_dataset(db, make_clip, media_dir, write_manifest):
    dataset = dataset_create(slug="killed", name="Killed workers")
    dataset.sample_fps = 2.0
    dataset.save()
    rows = []
    for name, seconds in (("a", 2.0), ("b", 2.5)):
        clip = make_clip(f"{name}.mp4", seconds=seconds, width=160, height=120)
        rows.append({"video": str(clip), "id": name})
    assert video_ingest(dataset=dataset, path=write_manifest(rows), pipeline="none").errors == []
    return dataset


def wait_until(predicate, seconds: float, workers: Workers, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            states = list(
                Video.objects.values_list("external_id", "probe_status", "frames_status", "proxy_status")
            )
            pytest.fail(f"timed out waiting for {what}; videos: {states}\n{workers.logs()}")
        time.sleep(0.1)


def all_finished() -> bool:
    """Every stage of every video finished (the model stages after OCR too: their claims are rows)."""
    return not Video.objects.exclude(**{f"{stage.status_field}__in": FINISHED for stage in STAGES}).exists()


def files_under(folder: Path, pattern: str) -> set[Path]:
    return {p for p in folder.rglob(pattern) if p.is_file()} if folder.exists() else set()


def assert_every_video_ended_and_disk_matches_rows(media: Path) -> None:
    for video in Video.objects.all():
        assert video.probe_status == video.frames_status == video.proxy_status == StageStatus.DONE, (
            video.error
        )
        rows = {media / image for image in Frame.objects.filter(video=video).values_list("image", flat=True)}
        assert rows and files_under(video_frames_folder(video), "*") == rows
    assert files_under(media, "*.part*") == set()
    assert not StageClaim.objects.exists()


def mid_frames_jpegs(media: Path) -> bool:
    return Video.objects.filter(frames_status=StageStatus.RUNNING).exists() and bool(
        files_under(media / "frames", "*.jpg")
    )


def test_a_pool_child_killed_mid_frames_is_redelivered_and_the_pipeline_ends_done(
    workers, clips_dataset, media_dir
):
    group = workers()
    worker = group.start()
    group.queue_pipeline(clips_dataset.slug)
    wait_until(lambda: mid_frames_jpegs(media_dir), 25, group, "the frames stage to write JPEGs")
    ffmpeg = next(p for p in psutil.Process(worker.pid).children(recursive=True) if p.name() == "ffmpeg")
    killed_run = {p.parent for p in files_under(media_dir / "frames", "*.jpg")}
    os.kill(ffmpeg.ppid(), signal.SIGKILL)  # the pool child running the stage

    wait_until(all_finished, 30, group, "every video to finish")

    assert_every_video_ended_and_disk_matches_rows(media_dir)
    assert not any(run.exists() for run in killed_run)


def test_a_whole_worker_killed_mid_proxy_is_taken_over_by_the_next_worker(workers, clips_dataset, media_dir):
    # Short limits, so a run is stale (hard limit 7 s + 2 s) and the sweeper (every second) acts
    # within the test; the visibility timeout stays above the hard limit, as the check demands.
    limits = {f"MICROCURATE_{stage.name.upper()}_TIME_LIMIT": "6" for stage in STAGES}
    group = workers(
        **limits,
        MICROCURATE_STAGE_KILL_GRACE="1",
        MICROCURATE_STAGE_STALE_MARGIN="2",
        MICROCURATE_SWEEP_INTERVAL="1",
        CELERY_VISIBILITY_TIMEOUT="8",
    )
    first = group.start()
    group.queue_pipeline(clips_dataset.slug)
    wait_until(
        lambda: bool(files_under(media_dir / "proxies", "*.part.mp4")), 30, group, "a half-written proxy"
    )
    os.killpg(first.pid, signal.SIGKILL)  # main process, pool child, beat and ffmpeg: the machine died
    first.wait()

    group.start()
    wait_until(all_finished, 35, group, "every video to finish")

    assert_every_video_ended_and_disk_matches_rows(media_dir)


def test_a_stage_past_its_time_limit_fails_with_the_reason_and_leaves_no_frames(
    workers, clips_dataset, media_dir
):
    group = workers(MICROCURATE_FRAMES_TIME_LIMIT="1")  # the clips take 2 s or more to decode here
    group.start()
    group.queue_pipeline(clips_dataset.slug)

    wait_until(
        lambda: not Video.objects.exclude(frames_status__in=FINISHED).exists(), 30, group, "frames to stop"
    )

    for video in Video.objects.all():
        assert (video.frames_status, video.error) == ("failed", "frames: took longer than its 1 s time limit")
    assert files_under(media_dir / "frames", "*") == set()
    assert not StageClaim.objects.exists()

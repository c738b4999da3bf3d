"""Stages whose worker died: takeover by the redelivered message or after the hard time limit, the
sweeper, `process_videos --retry-failed`, and the files a dead run leaves behind."""

import io
import json
from datetime import timedelta

import pytest
import redis
from django.conf import settings as django_settings
from django.core.management import call_command
from django.utils import timezone

from curation.checks import visibility_timeout_exceeds_time_limits
from curation.media_store import proxy_relative_path, video_frames_folder
from curation.models import Frame, StageClaim, StageStatus, Video
from curation.services.ingest import video_ingest
from curation.services.pipeline import stage_execute, stage_stale_after
from curation.services.pipeline.recovery import pipeline_sweep

pytestmark = pytest.mark.django_db


@pytest.fixture
def video(dataset, make_clip, write_manifest) -> Video:
    """A short clip, ingested and stored with no stage run yet."""
    clip = make_clip("clip.mp4", seconds=2.0, width=160, height=120, audio=False)
    video_ingest(dataset=dataset, path=write_manifest([{"video": str(clip), "id": "clip"}]), pipeline="none")
    return Video.objects.get(external_id="clip")


def lose_a_run(video: Video, stage: str, *, task_id: str = "t-1", age: timedelta = timedelta(0), attempts=1):
    """What a worker killed mid-stage leaves: the stage RUNNING under its claim."""
    Video.objects.filter(id=video.id).update(**{f"{stage}_status": StageStatus.RUNNING})
    StageClaim.objects.create(
        video=video, stage=stage, task_id=task_id, claimed_at=timezone.now() - age, attempts=attempts
    )


@pytest.fixture
def media_queue(settings):
    """The `media` queue on this test run's own Redis database, empty before and after."""
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    client.delete("media")
    yield client
    client.delete("media")


def queued_tasks(queue: str) -> list[tuple[str, str]]:
    client = redis.Redis.from_url(django_settings.CELERY_BROKER_URL)
    messages = [json.loads(raw) for raw in client.lrange(queue, 0, -1)]
    return [(m["headers"]["task"], m["headers"]["argsrepr"]) for m in messages]


def status(video: Video, stage: str) -> str:
    return Video.objects.values_list(f"{stage}_status", flat=True).get(id=video.id)


def test_the_staleness_threshold_derives_from_the_stage_time_limit(settings):
    settings.MICROCURATE_STAGE_TIME_LIMITS = {**settings.MICROCURATE_STAGE_TIME_LIMITS, "frames": 100}
    settings.MICROCURATE_STAGE_KILL_GRACE = 20
    settings.MICROCURATE_STAGE_STALE_MARGIN = 7
    assert stage_stale_after("frames") == timedelta(seconds=127)


def test_a_fresh_claim_is_left_to_its_holder(video):
    lose_a_run(video, "probe")
    assert stage_execute(video_id=video.id, stage_name="probe", task_id="t-2") == StageStatus.RUNNING
    assert StageClaim.objects.get().task_id == "t-1"


def test_the_redelivered_message_of_a_dead_run_takes_it_over_and_finishes_it(video):
    lose_a_run(video, "probe", task_id="t-1")
    assert stage_execute(video_id=video.id, stage_name="probe", task_id="t-1") == StageStatus.DONE
    assert status(video, "probe") == StageStatus.DONE
    assert not StageClaim.objects.exists()


def test_a_claim_older_than_the_hard_time_limit_is_taken_over_by_any_message(video):
    lose_a_run(video, "probe", age=stage_stale_after("probe") + timedelta(seconds=5))
    assert stage_execute(video_id=video.id, stage_name="probe", task_id="t-9") == StageStatus.DONE


def test_a_stage_lost_as_often_as_allowed_fails_with_the_reason(video, settings):
    settings.MICROCURATE_STAGE_MAX_RUNS = 3
    lose_a_run(video, "probe", attempts=3)
    assert stage_execute(video_id=video.id, stage_name="probe", task_id="t-1") == StageStatus.FAILED
    video.refresh_from_db()
    assert video.probe_status == StageStatus.FAILED
    assert video.error.startswith("probe: 3 runs were lost (the worker died, or the run passed its ")
    assert not StageClaim.objects.exists()


def test_taking_over_frames_removes_the_jpegs_of_the_dead_run(video):
    stage_execute(video_id=video.id, stage_name="probe")
    dead_run = video_frames_folder(video) / "deadbeef"
    dead_run.mkdir(parents=True)
    (dead_run / "00000.jpg").write_bytes(b"half a run")
    lose_a_run(video, "frames", task_id="t-1")

    assert stage_execute(video_id=video.id, stage_name="frames", task_id="t-1") == StageStatus.DONE

    assert not dead_run.exists()
    on_disk = {str(p) for p in video_frames_folder(video).rglob("*") if p.is_file()}
    rows = {
        str(video_frames_folder(video).parents[2] / image)
        for image in Frame.objects.values_list("image", flat=True)
    }
    assert on_disk == rows and len(rows) > 0


def test_taking_over_the_proxy_removes_the_half_written_copy(video, settings):
    stage_execute(video_id=video.id, stage_name="probe")
    partial = settings.MEDIA_ROOT / proxy_relative_path(video).replace(".mp4", ".part.mp4")
    partial.parent.mkdir(parents=True)
    partial.write_bytes(b"half a copy")
    Video.objects.filter(id=video.id).update(frames_status=StageStatus.DONE)
    lose_a_run(video, "proxy", age=stage_stale_after("proxy") + timedelta(seconds=1))
    # A stage failing for good leaves no half-written copy either: a source removed meanwhile.
    Video.objects.filter(id=video.id).update(local_path="", source=str(settings.MEDIA_ROOT / "gone.mp4"))

    assert stage_execute(video_id=video.id, stage_name="proxy", task_id="t-2") == StageStatus.FAILED
    assert not partial.exists()


def test_the_sweeper_queues_stale_runs_again_and_fails_those_lost_too_often(
    dataset, video, settings, media_queue, django_capture_on_commit_callbacks
):
    settings.MICROCURATE_STAGE_MAX_RUNS = 2
    other = Video.objects.create(
        dataset=dataset, external_id="other", source=video.source, source_kind="file"
    )
    live = Video.objects.create(dataset=dataset, external_id="live", source=video.source, source_kind="file")
    old = stage_stale_after("frames") + timedelta(seconds=1)
    lose_a_run(video, "frames", age=old, attempts=1)
    lose_a_run(other, "frames", age=old, attempts=2)
    lose_a_run(live, "frames", age=timedelta(seconds=1))
    dead_run = video_frames_folder(other) / "deadbeef"
    dead_run.mkdir(parents=True)

    with django_capture_on_commit_callbacks(execute=True):
        report = pipeline_sweep()

    assert report.summary() == {"requeued": {"frames": [video.id]}, "failed": {"frames": [other.id]}}
    assert [status(v, "frames") for v in (video, other, live)] == ["pending", "failed", "running"]
    assert Video.objects.get(id=other.id).error.startswith("frames: 2 runs were lost")
    assert not dead_run.exists()
    assert queued_tasks("media") == [("curation.tasks.video_frames_task", f"({video.id},)")]
    # The queued run is run 2: one more loss fails it.
    assert StageClaim.objects.get(video=video).attempts == 1
    assert pipeline_sweep().summary() == {"requeued": {}, "failed": {}}  # claims are fresh again


def test_retry_failed_also_takes_stale_running_videos_and_says_how_many(dataset, video):
    failed = Video.objects.create(
        dataset=dataset, external_id="f", source=video.source, source_kind="file", probe_status="failed"
    )
    live = Video.objects.create(dataset=dataset, external_id="live", source=video.source, source_kind="file")
    lose_a_run(video, "probe", age=stage_stale_after("probe") + timedelta(seconds=1), attempts=2)
    lose_a_run(live, "probe", age=timedelta(seconds=1))
    out = io.StringIO()

    call_command("process_videos", dataset=dataset.slug, retry_failed=True, pipeline="queue", stdout=out)

    assert "probe: 1 failed and 1 stale running videos reset to pending" in out.getvalue()
    assert [status(v, "probe") for v in (video, failed, live)] == ["pending", "pending", "running"]
    assert list(StageClaim.objects.values_list("video_id", flat=True)) == [live.id]


def test_a_visibility_timeout_not_above_the_longest_hard_limit_is_refused(settings):
    settings.MICROCURATE_STAGE_TIME_LIMITS = {"probe": 10, "frames": 100, "proxy": 50, "ocr": 20}
    settings.MICROCURATE_STAGE_KILL_GRACE = 5
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 105}
    assert [e.id for e in visibility_timeout_exceeds_time_limits()] == ["curation.E004"]
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 106}
    assert visibility_timeout_exceeds_time_limits() == []

"""Thin Celery tasks: ids in, one service call, retries only for transient errors."""

from celery import shared_task

import config.celery  # noqa: F401 (the app these tasks are sent through and run by)
from curation.errors import TransientStageError
from curation.models import StageStatus
from curation.services import exports, pipeline

MAX_RETRIES = 3


def _run_stage(task, video_id: int, stage_name: str) -> str:
    try:
        status = pipeline.stage_execute(video_id=video_id, stage_name=stage_name)
    except TransientStageError as exc:
        if task.request.retries >= MAX_RETRIES:
            pipeline.stage_give_up(
                video_id=video_id,
                stage_name=stage_name,
                reason=f"gave up after {MAX_RETRIES + 1} tries: {exc}",
            )
            return StageStatus.FAILED
        raise task.retry(exc=exc, countdown=2 ** (task.request.retries + 1)) from None
    if status in (StageStatus.DONE, StageStatus.SKIPPED):
        pipeline.pipeline_enqueue(video_id=video_id, after=stage_name)
    return status


# acks_late: the stage is idempotent (claimed by a conditional UPDATE), so redelivery after a
# worker crash is safe and nothing is lost.
@shared_task(bind=True, acks_late=True, max_retries=MAX_RETRIES)
def video_probe_task(self, video_id: int) -> str:
    return _run_stage(self, video_id, "probe")


@shared_task(bind=True, acks_late=True, max_retries=MAX_RETRIES)
def video_frames_task(self, video_id: int) -> str:
    return _run_stage(self, video_id, "frames")


@shared_task(bind=True, acks_late=True, max_retries=MAX_RETRIES)
def video_proxy_task(self, video_id: int) -> str:
    return _run_stage(self, video_id, "proxy")


@shared_task(bind=True, acks_late=True, max_retries=MAX_RETRIES)
def video_ocr_task(self, video_id: int) -> str:
    return _run_stage(self, video_id, "ocr")


# No acks_late: an export runs for minutes; a redelivery after a worker crash would find the job
# RUNNING and leave it, and the next request for it takes over once its heartbeat is stale.
@shared_task
def export_run_task(job_id: int) -> str:
    return exports.export_run(job_id=job_id).status

"""Thin Celery tasks: ids in, one service call, retries only for transient errors."""

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings

import config.celery  # noqa: F401 (the app these tasks are sent through and run by)
from curation.errors import TransientStageError
from curation.models import StageStatus
from curation.services import actions, exports, modelling, pipeline
from curation.services.pipeline import recovery as pipeline_recovery

MAX_RETRIES = 3


def _stage_options(stage_name: str) -> dict:
    """acks_late and reject_on_worker_lost: the stage is idempotent (claimed by a conditional
    UPDATE), so a message whose worker died is delivered again and its run taken over; time limits
    so a hung stage cannot hold a worker for ever (the sweeper relies on the hard one)."""
    soft, hard = pipeline.stage_time_limits(stage_name)
    return {
        "bind": True,
        "acks_late": True,
        "reject_on_worker_lost": True,
        "max_retries": MAX_RETRIES,
        "soft_time_limit": soft,
        "time_limit": hard,
    }


def _run_stage(task, video_id: int, stage_name: str) -> str:
    try:
        status = pipeline.stage_execute(
            video_id=video_id,
            stage_name=stage_name,
            task_id=task.request.id or "",
            time_limit_error=SoftTimeLimitExceeded,
        )
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


@shared_task(**_stage_options("probe"))
def video_probe_task(self, video_id: int) -> str:
    return _run_stage(self, video_id, "probe")


@shared_task(**_stage_options("audio"))
def video_audio_task(self, video_id: int) -> str:
    return _run_stage(self, video_id, "audio")


@shared_task(**_stage_options("frames"))
def video_frames_task(self, video_id: int) -> str:
    return _run_stage(self, video_id, "frames")


@shared_task(**_stage_options("proxy"))
def video_proxy_task(self, video_id: int) -> str:
    return _run_stage(self, video_id, "proxy")


@shared_task(**_stage_options("ocr"))
def video_ocr_task(self, video_id: int) -> str:
    return _run_stage(self, video_id, "ocr")


@shared_task(**_stage_options("features"))
def video_features_task(self, video_id: int) -> str:
    return _run_stage(self, video_id, "features")


@shared_task(**_stage_options("score"))
def video_score_task(self, video_id: int) -> str:
    return _run_stage(self, video_id, "score")


# Sent by Celery beat (CELERY_BEAT_SCHEDULE). Not acks_late: a sweep lost with its worker is
# simply the next one.
@shared_task
def pipeline_sweep_task() -> dict:
    return pipeline_recovery.pipeline_sweep().summary()


# No acks_late: an export runs for minutes; a redelivery after a worker crash would find the job
# RUNNING and leave it, and the next request for it takes over once its heartbeat is stale.
@shared_task
def export_run_task(job_id: int) -> str:
    try:
        return exports.export_run(job_id=job_id).status
    finally:  # the dataset page's action that asked for it ends with it, whatever the outcome
        actions.actions_job_ended(export_job_id=job_id)


# No acks_late: training runs for minutes and is not idempotent; a run lost with its worker stays
# RUNNING until model_run_recover marks it failed (its heartbeat goes stale).
@shared_task(
    soft_time_limit=settings.MICROCURATE_TRAIN_TIME_LIMIT,
    time_limit=settings.MICROCURATE_TRAIN_TIME_LIMIT + settings.MICROCURATE_STAGE_KILL_GRACE,
)
def model_run_train_task(run_id: int) -> str:
    try:
        return modelling.model_run_train(run_id=run_id).status
    finally:
        actions.actions_job_ended(model_run_id=run_id)


# With an action (the dataset page's score button), the action records the run and its progress.
@shared_task
def dataset_score_task(dataset_id: int, run_id: int | None = None, action_id: int | None = None) -> int:
    if action_id is not None:
        return actions.score_action_run(action_id=action_id, run_id=run_id)
    return modelling.dataset_score(dataset_id=dataset_id, run_id=run_id).scored

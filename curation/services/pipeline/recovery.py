"""Recovery of stages whose worker died: the periodic sweeper and `process_videos --retry-failed`.

A worker killed mid-stage leaves the video RUNNING. Most of the time its own message comes back
(Celery rejects it when the pool child dies; Redis hands it out again after the visibility timeout
when the whole worker died) and the next run takes the claim over (pipeline._claim). The sweeper
covers the rest: a run killed at its hard time limit (Celery acknowledges it), a message lost with
the broker, a worker that never comes back. It only touches claims older than the stage's hard
time limit plus a margin, which no live run can hold.
"""

import logging
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction
from django.db.models.functions import Now

from curation.models import StageClaim, StageStatus, Video
from curation.services.pipeline.stages import (
    STAGES,
    Stage,
    lost_runs_reason,
    stage_enqueue,
    stage_get,
    stage_stale_after,
)

logger = logging.getLogger("microcurate.pipeline")


@dataclass
class SweepReport:
    """Video ids per stage: queued again, failed for good (too many lost runs)."""

    requeued: dict[str, list[int]] = field(default_factory=dict)
    failed: dict[str, list[int]] = field(default_factory=dict)

    def summary(self) -> dict:
        return {"requeued": self.requeued, "failed": self.failed}


def _stale_claims(stage: Stage):
    return StageClaim.objects.filter(stage=stage.name, claimed_at__lt=Now() - stage_stale_after(stage.name))


def pipeline_sweep() -> SweepReport:
    """Queue every lost run again, or fail it with the reason once it was lost MAX_RUNS times."""
    report = SweepReport()
    for stage in STAGES:
        for claim_id, video_id, attempts in _stale_claims(stage).values_list("id", "video_id", "attempts"):
            outcome = _sweep_one(stage, claim_id, video_id, attempts)
            if outcome is not None:
                getattr(report, outcome).setdefault(stage.name, []).append(video_id)
    for outcome in ("requeued", "failed"):
        for stage_name, ids in getattr(report, outcome).items():
            logger.warning("sweeper: %s %s for %d video(s): %s", outcome, stage_name, len(ids), ids)
    return report


@transaction.atomic
def _sweep_one(stage: Stage, claim_id: int, video_id: int, attempts: int) -> str | None:
    # Refreshing the claim first takes it: a redelivered message racing us finds it neither stale
    # nor its own, and a second sweeper finds it fresh.
    if not _stale_claims(stage).filter(id=claim_id).update(task_id="", claimed_at=Now()):
        return None
    field_name = stage.status_field
    status = Video.objects.filter(id=video_id).values_list(field_name, flat=True).first()
    if status == StageStatus.RUNNING and attempts >= settings.MICROCURATE_STAGE_MAX_RUNS:
        Video.objects.filter(id=video_id).update(
            **{field_name: StageStatus.FAILED}, error=f"{stage.name}: {lost_runs_reason(stage.name)}"
        )
        StageClaim.objects.filter(id=claim_id).delete()
        video = Video.objects.get(id=video_id)
        transaction.on_commit(lambda: stage.remove_orphans(video))
        return "failed"
    if status in (StageStatus.RUNNING, StageStatus.PENDING):
        # PENDING with a claim: queued again by an earlier sweep and not run since (a message
        # lost with the broker); the claim keeps the count of lost runs.
        Video.objects.filter(id=video_id).update(**{field_name: StageStatus.PENDING})
        stage_enqueue(video_id=video_id, stage_name=stage.name)
        return "requeued"
    StageClaim.objects.filter(id=claim_id).delete()  # the stage ended some other way (an admin edit)
    return None


@transaction.atomic
def pipeline_reset_stale(*, dataset_id: int, stage_name: str) -> list[int]:
    """Put a dataset's stale RUNNING videos (their worker is gone) back to pending as a fresh
    start; returns their ids. Files their runs left are removed when the stage is claimed again."""
    stage = stage_get(stage_name)
    claims = _stale_claims(stage).filter(
        video__dataset_id=dataset_id, **{f"video__{stage.status_field}": "running"}
    )
    ids = list(claims.select_for_update().values_list("video_id", flat=True))
    Video.objects.filter(id__in=ids, **{stage.status_field: StageStatus.RUNNING}).update(
        **{stage.status_field: StageStatus.PENDING}
    )
    StageClaim.objects.filter(video_id__in=ids, stage=stage.name).delete()
    return ids

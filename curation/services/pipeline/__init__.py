"""The per-video pipeline: the stage table and how a stage is claimed, run and chained
(`stages`), and the recovery of stages whose worker died (`recovery`, swept by Celery beat)."""

from curation.services.pipeline.stages import (
    MODES,
    STAGES,
    Stage,
    pipeline_enqueue,
    pipeline_reset,
    pipeline_run_inline,
    pipeline_start,
    stage_enqueue,
    stage_execute,
    stage_get,
    stage_give_up,
    stage_stale_after,
    stage_time_limits,
)

__all__ = [
    "MODES", "STAGES", "Stage", "pipeline_enqueue", "pipeline_reset", "pipeline_run_inline", "pipeline_start",
    "stage_enqueue", "stage_execute", "stage_get", "stage_give_up", "stage_stale_after", "stage_time_limits",
]  # fmt: skip

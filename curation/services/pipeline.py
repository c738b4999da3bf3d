"""The per-video pipeline: stages run in order, each claimed with a conditional UPDATE of its
status column so a retry or a duplicate delivery does nothing twice.

Modes: `queue` hands each stage to a Celery worker after the surrounding transaction commits;
`inline` runs the stages in this process (scripts, tests, benchmarks); `none` stores only.
"""

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.module_loading import import_string

from curation.errors import StageError, StageSkipped, TransientStageError
from curation.models import StageStatus, Video

logger = logging.getLogger("microcurate.pipeline")
MODES = ("queue", "inline", "none")
# A stage still RUNNING this long after its claim belongs to a worker that died: reclaim it.
STALE_AFTER = timedelta(minutes=30)


@dataclass(frozen=True)
class Stage:
    name: str
    status_field: str
    task_name: str  # a task in curation.tasks
    # Dotted path of the service: (video) -> the fields to store with DONE. Imported when first
    # run, so commands that only store rows (ingest) do not load OpenCV and friends.
    service: str

    @property
    def run(self) -> Callable[[Video], dict]:
        return import_string(self.service)


STAGES: tuple[Stage, ...] = (
    Stage("probe", "probe_status", "video_probe_task", "curation.services.probe.video_probe"),
    Stage("frames", "frames_status", "video_frames_task", "curation.services.frames.video_frames_sample"),
    # After frames: the browser-playable copy the annotation pages show (issue 5).
    Stage("proxy", "proxy_status", "video_proxy_task", "curation.services.proxy.video_proxy"),
    # Last: the most expensive stage, on its own queue (issue 4).
    Stage("ocr", "ocr_status", "video_ocr_task", "curation.services.ocr.video_ocr"),
)
_BY_NAME = {stage.name: stage for stage in STAGES}


def stage_get(name: str) -> Stage:
    try:
        return _BY_NAME[name]
    except KeyError:
        raise ValueError(f"unknown stage {name!r}; stages: {', '.join(_BY_NAME)}") from None


def stage_execute(*, video_id: int, stage_name: str) -> str:
    """Run one stage on one video; returns the status it left (or found) the video in.

    TransientStageError is re-raised after the claim is released, so the caller may retry.
    """
    stage = stage_get(stage_name)
    now = timezone.now()
    claimable = Q(**{stage.status_field: StageStatus.PENDING}) | Q(
        **{stage.status_field: StageStatus.RUNNING, "updated_at__lt": now - STALE_AFTER}
    )
    claimed = Video.objects.filter(claimable, id=video_id).update(
        **{stage.status_field: StageStatus.RUNNING, "updated_at": now}
    )
    if claimed != 1:
        found = Video.objects.filter(id=video_id).values_list(stage.status_field, flat=True).first()
        return found or "missing"
    video = Video.objects.get(id=video_id)
    try:
        fields = stage.run(video)
    except TransientStageError:
        _set_status(video_id, stage, StageStatus.PENDING)
        raise
    except StageSkipped:
        _set_status(video_id, stage, StageStatus.SKIPPED, error="")
        return StageStatus.SKIPPED
    except StageError as exc:
        _set_status(video_id, stage, StageStatus.FAILED, error=f"{stage.name}: {exc}")
        return StageStatus.FAILED
    except Exception as exc:
        # Unexpected: recorded on the row, then raised so the worker logs the traceback.
        _set_status(video_id, stage, StageStatus.FAILED, error=f"{stage.name}: internal error: {exc!r}")
        raise
    _set_status(video_id, stage, StageStatus.DONE, error="", **fields)
    return StageStatus.DONE


def stage_give_up(*, video_id: int, stage_name: str, reason: str) -> None:
    """After the last retry of a transient error."""
    stage = stage_get(stage_name)
    _set_status(video_id, stage, StageStatus.FAILED, error=f"{stage.name}: {reason}")


def _set_status(video_id: int, stage: Stage, status: str, **fields) -> None:
    Video.objects.filter(id=video_id).update(
        **{stage.status_field: status, "updated_at": timezone.now()}, **fields
    )


def _next_stage(after: str | None) -> Stage | None:
    if after is None:
        return STAGES[0]
    index = STAGES.index(stage_get(after))
    return STAGES[index + 1] if index + 1 < len(STAGES) else None


def pipeline_enqueue(*, video_id: int, after: str | None = None) -> None:
    """Queue the stage that follows `after` (the first one when None) once the transaction
    that made the video ready commits."""
    from curation import tasks  # tasks import this module: import them when first needed

    stage = _next_stage(after)
    if stage is not None:
        getattr(tasks, stage.task_name).delay_on_commit(video_id)


def pipeline_run_inline(*, video_id: int) -> str:
    """Every stage in order in this process; stops at the first stage that does not finish."""
    status = StageStatus.DONE
    for stage in STAGES:
        result = stage_execute(video_id=video_id, stage_name=stage.name)
        if result == StageStatus.SKIPPED:
            continue  # a stage turned off (OCR without weights to spare) does not stop the rest
        status = result
        if status != StageStatus.DONE:
            break
    return status


def pipeline_start(*, video_ids: Iterable[int], mode: str) -> None:
    if mode not in MODES:
        raise ValueError(f"unknown pipeline mode {mode!r}; use one of {', '.join(MODES)}")
    if mode == "queue":
        for video_id in video_ids:
            pipeline_enqueue(video_id=video_id)
    elif mode == "inline":
        for video_id in video_ids:
            pipeline_run_inline(video_id=video_id)


@transaction.atomic
def pipeline_reset(*, dataset_id: int, stage_name: str, statuses: Iterable[str]) -> list[int]:
    """Put videos whose stage is in `statuses` (e.g. failed, or running after a crash) back
    to pending; returns their ids so the caller can start them."""
    stage = stage_get(stage_name)
    ids = list(
        Video.objects.select_for_update()
        .filter(dataset_id=dataset_id, **{f"{stage.status_field}__in": list(statuses)})
        .values_list("id", flat=True)
    )
    Video.objects.filter(id__in=ids).update(**{stage.status_field: StageStatus.PENDING})
    return ids

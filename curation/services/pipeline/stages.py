"""The per-video pipeline: stages run in order, each claimed with a conditional UPDATE of its
status column so a retry or a duplicate delivery does nothing twice.

Modes: `queue` hands each stage to a Celery worker after the surrounding transaction commits;
`inline` runs the stages in this process (scripts, tests, benchmarks); `none` stores only.

A claim also writes a StageClaim row (the Celery message holding it, the database's time, the run
number), so a holder that died is recognised: its own message delivered again, or a claim older
than the stage's hard time limit plus a margin (Celery kills a run at its hard limit, so nothing
alive holds such a claim). curation.services.pipeline.recovery sweeps those up.
"""

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.db.models.functions import Now
from django.utils import timezone
from django.utils.module_loading import import_string

from curation.errors import StageError, StageSkipped, TransientStageError
from curation.models import StageClaim, StageStatus, Video

logger = logging.getLogger("microcurate.pipeline")
MODES = ("queue", "inline", "none")


@dataclass(frozen=True)
class Stage:
    name: str
    status_field: str
    task_name: str  # a task in curation.tasks
    # Dotted path of the service: (video) -> the fields to store with DONE. Imported when first
    # run, so commands that only store rows (ingest) do not load OpenCV and friends.
    service: str
    # Dotted path of (video) -> None removing what a run that died left on disk (None: nothing).
    orphans: str | None = None

    @property
    def run(self) -> Callable[[Video], dict]:
        return import_string(self.service)

    def remove_orphans(self, video: Video) -> None:
        if self.orphans:
            import_string(self.orphans)(video)


STAGES: tuple[Stage, ...] = (
    Stage(
        "probe",
        "probe_status",
        "video_probe_task",
        "curation.services.probe.video_probe",
        "curation.services.probe.video_probe_orphans_remove",
    ),
    # Audio features (log-mel statistics) right after probe: ffmpeg reads the audio track once.
    Stage("audio", "audio_status", "video_audio_task", "curation.services.modelling.video_audio_features"),
    Stage(
        "frames",
        "frames_status",
        "video_frames_task",
        "curation.services.frames.video_frames_sample",
        "curation.services.frames.video_frames_orphans_remove",
    ),
    # After frames: the browser-playable copy the annotation pages show (issue 5).
    Stage(
        "proxy",
        "proxy_status",
        "video_proxy_task",
        "curation.services.proxy.video_proxy",
        "curation.services.proxy.video_proxy_orphans_remove",
    ),
    # Last: the most expensive stage, on its own queue (issue 4).
    Stage("ocr", "ocr_status", "video_ocr_task", "curation.services.ocr.video_ocr"),
    # The `ml` queue: text (title, subtitle) and frame embeddings, then the scores of the models
    # the dataset has (zero-shot before any training, the latest ModelRun after).
    Stage("features", "features_status", "video_features_task", "curation.services.modelling.video_features"),
    Stage("score", "score_status", "video_score_task", "curation.services.modelling.video_score"),
)
_BY_NAME = {stage.name: stage for stage in STAGES}


def stage_get(name: str) -> Stage:
    try:
        return _BY_NAME[name]
    except KeyError:
        raise ValueError(f"unknown stage {name!r}; stages: {', '.join(_BY_NAME)}") from None


def stage_time_limits(stage_name: str) -> tuple[int, int]:
    """(soft, hard) Celery time limits of a stage's task, in seconds."""
    soft = settings.MICROCURATE_STAGE_TIME_LIMITS[stage_get(stage_name).name]
    return soft, soft + settings.MICROCURATE_STAGE_KILL_GRACE


def stage_stale_after(stage_name: str) -> timedelta:
    """How old a claim must be before no live run can hold it. Derived from the hard limit, which
    Celery enforces by killing the run; an `inline` run has no limit and must finish within it."""
    return timedelta(seconds=stage_time_limits(stage_name)[1] + settings.MICROCURATE_STAGE_STALE_MARGIN)


def stage_execute(
    *,
    video_id: int,
    stage_name: str,
    task_id: str = "",
    time_limit_error: type[BaseException] | None = None,
) -> str:
    """Run one stage on one video; returns the status it left (or found) the video in.

    `task_id` names the Celery message running it: when that message comes again while the stage
    is RUNNING under it, its first run died (redelivered after a lost worker) and is taken over.
    `time_limit_error` is what the caller raises at the soft time limit (Celery's, named by the
    task so this module does not import Celery): the stage fails with the limit as its reason.
    TransientStageError is re-raised after the claim is released, so the caller may retry.
    """
    stage = stage_get(stage_name)
    run = _claim(video_id, stage, task_id)
    if run is None:
        found = Video.objects.filter(id=video_id).values_list(stage.status_field, flat=True).first()
        return found or "missing"
    video = Video.objects.get(id=video_id)
    # Files of an earlier run that died (JPEGs of a half-sampled video, a .part copy): this run
    # holds the claim, so nothing else is writing them.
    stage.remove_orphans(video)
    max_runs = settings.MICROCURATE_STAGE_MAX_RUNS
    if run > max_runs:
        _finish(video_id, stage, StageStatus.FAILED, error=f"{stage.name}: {lost_runs_reason(stage.name)}")
        return StageStatus.FAILED
    try:
        fields = stage.run(video)
    except TransientStageError:
        _finish(video_id, stage, StageStatus.PENDING)
        raise
    except StageSkipped:
        _finish(video_id, stage, StageStatus.SKIPPED, error="")
        return StageStatus.SKIPPED
    except StageError as exc:
        _finish(video_id, stage, StageStatus.FAILED, error=f"{stage.name}: {exc}")
        stage.remove_orphans(video)
        return StageStatus.FAILED
    except Exception as exc:
        if time_limit_error is not None and isinstance(exc, time_limit_error):
            reason = f"took longer than its {stage_time_limits(stage.name)[0]} s time limit"
            _finish(video_id, stage, StageStatus.FAILED, error=f"{stage.name}: {reason}")
            stage.remove_orphans(video)
            return StageStatus.FAILED
        # Unexpected: recorded on the row, then raised so the worker logs the traceback.
        _finish(video_id, stage, StageStatus.FAILED, error=f"{stage.name}: internal error: {exc!r}")
        stage.remove_orphans(video)
        raise
    _finish(video_id, stage, StageStatus.DONE, error="", **fields)
    return StageStatus.DONE


def lost_runs_reason(stage_name: str) -> str:
    hard = stage_time_limits(stage_name)[1]
    return (
        f"{settings.MICROCURATE_STAGE_MAX_RUNS} runs were lost (the worker died, or the run passed "
        f"its {hard} s hard time limit); not retried"
    )


def stage_give_up(*, video_id: int, stage_name: str, reason: str) -> None:
    """After the last retry of a transient error."""
    stage = stage_get(stage_name)
    _finish(video_id, stage, StageStatus.FAILED, error=f"{stage.name}: {reason}")


def _claim(video_id: int, stage: Stage, task_id: str) -> int | None:
    """Claim the stage; returns the run number (1 for the first run), None if someone holds it."""
    field = stage.status_field
    claims = StageClaim.objects.filter(video_id=video_id, stage=stage.name)
    with transaction.atomic():
        fresh = Video.objects.filter(id=video_id, **{field: StageStatus.PENDING}).update(
            **{field: StageStatus.RUNNING, "updated_at": timezone.now()}
        )
        if fresh:
            # A row left by the sweeper (it queued a lost run again) keeps counting runs.
            if not claims.update(task_id=task_id, claimed_at=Now(), attempts=F("attempts") + 1):
                StageClaim.objects.create(
                    video_id=video_id, stage=stage.name, task_id=task_id, claimed_at=Now()
                )
        else:
            dead = Q(claimed_at__lt=Now() - stage_stale_after(stage.name))
            if task_id:
                dead |= Q(task_id=task_id)
            # One UPDATE decides between two takers: the second re-reads the row and no longer matches.
            taken = claims.filter(dead, **{f"video__{field}": StageStatus.RUNNING}).update(
                task_id=task_id, claimed_at=Now(), attempts=F("attempts") + 1
            )
            if not taken:
                return None
            logger.warning("video %s: %s taken over from a lost run", video_id, stage.name)
        return claims.values_list("attempts", flat=True).get()


def _finish(video_id: int, stage: Stage, status: str, **fields) -> None:
    with transaction.atomic():
        Video.objects.filter(id=video_id).update(
            **{stage.status_field: status, "updated_at": timezone.now()}, **fields
        )
        StageClaim.objects.filter(video_id=video_id, stage=stage.name).delete()


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


def stage_enqueue(*, video_id: int, stage_name: str) -> None:
    """Queue one stage (the sweeper's re-run of a lost one) once the transaction commits."""
    from curation import tasks

    getattr(tasks, stage_get(stage_name).task_name).delay_on_commit(video_id)


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
def pipeline_reset(
    *, dataset_id: int, stage_name: str, statuses: Iterable[str], video_ids: Iterable[int] | None = None
) -> list[int]:
    """Put videos whose stage is in `statuses` (e.g. failed, or done to run it again) back to
    pending, as a fresh start (their count of lost runs too); returns their ids so the caller can
    start them. `video_ids`: only those of them. Running ones: see pipeline_recovery.pipeline_reset_stale."""
    stage = stage_get(stage_name)
    videos = Video.objects.select_for_update().filter(
        dataset_id=dataset_id, **{f"{stage.status_field}__in": list(statuses)}
    )
    if video_ids is not None:
        videos = videos.filter(id__in=list(video_ids))
    ids = list(videos.values_list("id", flat=True))
    Video.objects.filter(id__in=ids).update(**{stage.status_field: StageStatus.PENDING})
    StageClaim.objects.filter(video_id__in=ids, stage=stage.name).delete()
    return ids

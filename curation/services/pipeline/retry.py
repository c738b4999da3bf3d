"""Retry failed pipeline stages from the dataset page: the videos of one failure reason (as the
dashboard groups them), or chosen videos.

A video's stages run in order and stop at the first failure, so what is retried is the video's
failed stages up to the one asked for, and what is queued is the earliest of them: a video whose
probe failed gets its probe retried, not its frames; the stages after it follow as usual.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Q

from curation.errors import CurationError
from curation.models import Dataset, StageStatus, Video
from curation.selectors_dashboard import failure_reason
from curation.services.pipeline.stages import STAGES, pipeline_reset, stage_enqueue, stage_get


class RetryRefused(CurationError):
    pass


@dataclass
class RetrySummary:
    retried: int = 0
    videos: list[int] = field(default_factory=list)
    stages: dict[str, int] = field(default_factory=dict)  # stage queued again → videos

    def __str__(self) -> str:
        noun = "video" if self.retried == 1 else "videos"
        queued = ", ".join(f"{stage} {n}" for stage, n in self.stages.items())
        return f"{self.retried} {noun} queued again ({queued})"


def _refusal(dataset: Dataset, stage: str | None, reason: str | None, video_ids: list[int] | None) -> str:
    upto = f" at or before {stage}" if stage else ""
    if reason is not None:
        where = f"of videos {', '.join(map(str, video_ids))} " if video_ids else ""
        return f"no failed stage{upto} {where}of {dataset.slug} has the reason {reason!r}"
    return f"videos {', '.join(map(str, video_ids or []))} of {dataset.slug} have no failed stage{upto}"


@transaction.atomic
def pipeline_retry(
    *,
    dataset: Dataset,
    stage: str | None = None,
    reason: str | None = None,
    video_ids: Iterable[int] | None = None,
) -> RetrySummary:
    """Reset the failed stages of the videos of `reason` (exactly as dashboard_pipeline's
    failures[].reason groups them) or of `video_ids` (both: those of them with that reason) to
    pending, up to `stage` when given, and queue each video's earliest one once this commits.
    Refuses (nothing reset) an unknown stage, a video not in the dataset, or nothing to retry."""
    if reason is None and video_ids is None:
        raise RetryRefused("say what to retry: a stage and a failure reason, or video ids")
    last = len(STAGES)
    if stage is not None:
        try:
            last = STAGES.index(stage_get(stage)) + 1
        except ValueError as exc:
            raise RetryRefused(str(exc)) from None
    videos = Video.objects.filter(dataset=dataset)
    ids = None
    if video_ids is not None:
        ids = sorted(set(video_ids))
        if not ids:
            raise RetryRefused("video_ids is empty: name at least one video")
        found = set(videos.filter(id__in=ids).values_list("id", flat=True))
        missing = [i for i in ids if i not in found]
        if missing:
            raise RetryRefused(f"dataset {dataset.slug} has no video {', '.join(map(str, missing))}")
        videos = videos.filter(id__in=ids)
    failed_any = Q()
    for s in STAGES[:last]:
        failed_any |= Q(**{s.status_field: StageStatus.FAILED})
    fields = [s.status_field for s in STAGES[:last]]
    rows = videos.filter(failed_any).select_for_update().order_by("id").values_list("id", "error", *fields)
    plan: dict[int, list[str]] = {}
    for video_id, error, *statuses in rows:
        if reason is not None and failure_reason(error) != reason:
            continue
        stages = zip(STAGES[:last], statuses, strict=True)
        plan[video_id] = [s.name for s, status in stages if status == StageStatus.FAILED]
    if not plan:
        raise RetryRefused(_refusal(dataset, stage, reason, ids))
    for s in STAGES[:last]:
        chosen = [video_id for video_id, failed in plan.items() if s.name in failed]
        if chosen:
            pipeline_reset(
                dataset_id=dataset.id, stage_name=s.name, statuses=[StageStatus.FAILED], video_ids=chosen
            )
    summary = RetrySummary(retried=len(plan), videos=list(plan))
    for video_id, failed in plan.items():
        stage_enqueue(video_id=video_id, stage_name=failed[0])
        summary.stages[failed[0]] = summary.stages.get(failed[0], 0) + 1
    return summary

"""The dataset page's sections that read the annotator's tables (issue 18): annotation progress,
pace and workers, and the thumbnail figures (whose human picks are annotator tasks). The other
sections are curation's (curation/selectors_dashboard.py). Set-based: a fixed number of
statements whatever the number of tasks, answers or workers."""

from datetime import UTC, datetime, timedelta

from django.db.models import Aggregate, Case, CharField, Count, F, FloatField, Q, Value, When
from django.db.models.functions import TruncHour
from django.utils import timezone

from annotator.models import Answer, Assignment, Task, TaskKind
from annotator.selectors import dataset_progress
from annotator.services.quality import annotator_quality
from curation.models import Dataset
from curation.selectors import dataset_candidate_counts
from curation.selectors_dashboard import page, thumbnail_similarity_distribution

ACTIVE_WINDOW = timedelta(minutes=10)
PACE_HOURS = 24
# The paper's range of candidates most videos keep.
CANDIDATES_TYPICAL = (7, 12)
# Clicks buckets of the thumbnail agreement (views of the video), lowest first; None: unknown.
CLICKS_BUCKETS = (
    ("<1e3", 0, 10**3),
    ("1e3-1e4", 10**3, 10**4),
    ("1e4-1e5", 10**4, 10**5),
    (">=1e5", 10**5, None),
)
CLICKS_UNKNOWN = "unknown"


class Median(Aggregate):
    """PostgreSQL's continuous median (nulls left out)."""

    function = "percentile_cont"
    template = "%(function)s(0.5) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()


def _round(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)


def dashboard_annotation(*, dataset: Dataset, limit: int, offset: int, now: datetime | None = None) -> dict:
    """Per task kind: answers in / needed and the median seconds per answer; answers per hour over
    the last 24 hours (oldest first, the current hour last); workers active now (holding a lease,
    or answering in the last 10 minutes); per worker: gold accuracy, agreement with peers, the
    flag and whether staff paused them or excluded their answers (flagged first, then by name,
    paged)."""
    now = now or timezone.now()
    progress = {row["kind"]: row for row in dataset_progress(dataset=dataset)}
    answers = Answer.objects.filter(task__dataset=dataset)
    medians = dict(
        answers.values_list("task__kind").annotate(m=Median("seconds")).values_list("task__kind", "m")
    )
    kinds = []
    for kind in TaskKind.values:
        row = progress.get(kind) or {"kind": kind, "tasks": 0, "gold_tasks": 0, "answered": 0, "needed": 0,
                                     "complete": 0, "verdicts": {}, "agreement": None}  # fmt: skip
        kinds.append({**row, "median_seconds": _round(medians.get(kind))})

    current_hour = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    first_hour = current_hour - timedelta(hours=PACE_HOURS - 1)
    per_hour = dict(
        answers.filter(created_at__gte=first_hour)
        .annotate(hour=TruncHour("created_at", tzinfo=UTC))
        .values_list("hour")
        .annotate(n=Count("id"))
        .order_by()
    )
    hours = [first_hour + timedelta(hours=i) for i in range(PACE_HOURS)]

    leasing = Assignment.objects.filter(
        dataset=dataset, state=Assignment.State.OPEN, worker__isnull=False, lease_expires_at__gt=now
    ).values_list("worker_id", flat=True)
    answering = answers.filter(created_at__gte=now - ACTIVE_WINDOW).values_list("worker_id", flat=True)
    active = set(leasing) | set(answering)

    workers = [
        {
            "worker": q.worker_id,
            "username": q.username,
            "answers": q.answers,
            "gold_answered": q.gold_answered,
            "gold_correct": q.gold_correct,
            "gold_accuracy": _round(q.gold_accuracy, 4),
            "peer_pairs": q.peer_pairs,
            "peer_agreement": _round(q.peer_agreement, 4),
            "flagged": q.flagged,
            "is_paused": q.is_paused,
            "answers_excluded": q.answers_excluded,
            "active": q.worker_id in active,
        }
        for q in annotator_quality(dataset=dataset)
    ]
    workers.sort(key=lambda w: (not w["flagged"], w["username"]))
    return {
        "kinds": kinds,
        "answers": sum(row["answered"] for row in kinds),
        "needed": sum(row["needed"] for row in kinds),
        "median_seconds": _round(answers.aggregate(m=Median("seconds"))["m"]),
        "answers_per_hour": [{"hour": hour.isoformat(), "answers": per_hour.get(hour, 0)} for hour in hours],
        "active_workers": len(active),
        "flagged_workers": [w["username"] for w in workers if w["flagged"]],
        "workers": page(workers, limit=limit, offset=offset),
    }


def _clicks_bucket() -> Case:
    whens = [
        When(Q(video__clicks__gte=low) & (Q(video__clicks__lt=high) if high else Q()), then=Value(name))
        for name, low, high in CLICKS_BUCKETS
    ]
    return Case(*whens, default=Value(CLICKS_UNKNOWN), output_field=CharField())


def dashboard_thumbnails(*, dataset: Dataset) -> dict:
    """The thumbnail benchmark's figures: how many candidate frames the videos keep (the paper:
    most keep 7-12), the ground truth's similarity to the posted thumbnail, and how often the
    crowd's pick (a thumbnail task's verdict frame) is the ground-truth frame, by the video's
    clicks. `decided`: tasks with both a verdict frame and a ground-truth frame."""
    candidates = dataset_candidate_counts(dataset=dataset)
    videos = sum(candidates.values())
    low, high = CANDIDATES_TYPICAL
    typical = sum(n for k, n in candidates.items() if low <= k <= high)
    decided = Q(verdict_frame__isnull=False, truth_frame__isnull=False)
    rows = (
        Task.objects.filter(dataset=dataset, kind=TaskKind.THUMBNAIL, is_gold=False)
        .annotate(bucket=_clicks_bucket())
        .values_list("bucket")
        .annotate(
            tasks=Count("id"),
            decided=Count("id", filter=decided),
            matches=Count("id", filter=decided & Q(verdict_frame_id=F("truth_frame_id"))),
        )
        .order_by()
    )
    found = {bucket: (tasks, decided_n, matches) for bucket, tasks, decided_n, matches in rows}
    buckets = []
    for name in [b[0] for b in CLICKS_BUCKETS] + [CLICKS_UNKNOWN]:
        tasks, decided_n, matches = found.get(name, (0, 0, 0))
        buckets.append(
            {
                "clicks": name,
                "tasks": tasks,
                "decided": decided_n,
                "matches": matches,
                "agreement": round(matches / decided_n, 4) if decided_n else None,
            }
        )
    decided_all = sum(b["decided"] for b in buckets)
    matches_all = sum(b["matches"] for b in buckets)
    return {
        "candidates": {
            "histogram": [{"candidates": k, "videos": n} for k, n in candidates.items()],
            "videos": videos,
            "typical_range": list(CANDIDATES_TYPICAL),
            "typical": typical,
            "typical_share": round(typical / videos, 4) if videos else 0.0,
        },
        "similarity": thumbnail_similarity_distribution(dataset=dataset),
        "agreement_by_clicks": buckets,
        "agreement": round(matches_all / decided_all, 4) if decided_all else None,
    }

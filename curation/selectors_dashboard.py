"""What the staff dataset page charts (issue 18), one JSON-ready dict per section: pipeline,
label quality, frames, models, and the thumbnail ground truth's similarity. The annotation and
thumbnail-agreement sections read the annotator's tables, so they live in
annotator/selectors_dashboard.py. Every read is set-based: a fixed number of statements whatever
the number of videos, frames or topics, and an empty dataset gives zeros and empty lists.

Long lists (topics) come as a page: {"total", "offset", "limit", "rows"}, so the page can show the
top N and walk through thousands of topics.
"""

from datetime import datetime, timedelta

from django.db.models import Count, Q
from django.utils import timezone

from curation.models import Dataset, Frame, ModelRun, NoiseEstimate, StageStatus, ThumbnailTruth, Topic, Video
from curation.selectors_labels import aggregation_run_latest, disputed_list
from curation.services.labels.noise import noise_bias, noise_estimate_history, noise_estimate_latest
from curation.services.modelling.learnability import learnability
from curation.services.pipeline import STAGES

THROUGHPUT_WINDOW = timedelta(minutes=10)
FAILED_VIDEOS_LISTED = 20
DISPUTED_LISTED = 20
HISTORY_LISTED = 100
FRAME_EXAMPLES = 3
SIMILARITY_BIN = 0.05
FRAME_FLAGS = ("dark", "blurry", "uniform", "near_duplicate")
METRICS_SHOWN = ("mca", "top5", "map_tag")


def page(rows: list, *, limit: int, offset: int) -> dict:
    return {"total": len(rows), "offset": offset, "limit": limit, "rows": rows[offset : offset + limit]}


def _share(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


# Pipeline ----------------------------------------------------------------------------------------


def failure_reason(error: str) -> str:
    """A failed stage's error grouped by its stage and first clause: "probe: no video stream: x"
    and "probe: no video stream: y" are one reason; the detail after that is the video's own. A
    colon inside brackets does not end the clause ("no video stream (streams: audio)" is whole)."""
    if not error.strip():
        return "(no error recorded)"
    stage, _, rest = error.strip().partition(": ")
    depth = 0
    for index, char in enumerate(rest):
        depth += {"(": 1, "[": 1, ")": -1, "]": -1}.get(char, 0)
        if depth <= 0 and rest.startswith(": ", index):
            rest = rest[:index]
            break
    return f"{stage}: {rest.strip()}" if rest.strip() else stage


def dashboard_pipeline(*, dataset: Dataset, now: datetime | None = None) -> dict:
    """Per stage: videos pending / running / done / failed / skipped, throughput and the time left;
    the failures grouped by reason.

    Throughput: no stage but probe stores when it finished (`probed_at`). For the others,
    `finished` counts the videos whose stage is done and whose row last changed in the window
    (`updated_at`, written by every stage's finish): a video that finished this stage earlier and
    a later one in the window counts too, so it is an upper bound (`exact`: false): a stage that
    stopped still shows a pace while later stages finish the videos it did before. ETA =
    remaining / per minute, in minutes; 0 when nothing is left, null when nothing finished in the
    window. `blocked`: pending videos an earlier stage failed for, which will not come; remaining
    = pending - blocked + running."""
    now = now or timezone.now()
    since = now - THROUGHPUT_WINDOW
    counts = {}
    failed_before = Q(pk__in=[])  # matches nothing: no stage comes before the first
    for stage in STAGES:
        for status in StageStatus.values:
            counts[f"{stage.name}:{status}"] = Count("id", filter=Q(**{stage.status_field: status}))
        counts[f"{stage.name}:blocked"] = Count(
            "id", filter=Q(**{stage.status_field: StageStatus.PENDING}) & failed_before
        )
        failed_before |= Q(**{stage.status_field: StageStatus.FAILED})
        finished_at = "probed_at" if stage.name == "probe" else "updated_at"
        recent = Q(**{stage.status_field: StageStatus.DONE, f"{finished_at}__gte": since})
        counts[f"{stage.name}:recent"] = Count("id", filter=recent)
    videos = Video.objects.filter(dataset=dataset)
    totals = videos.aggregate(videos=Count("id"), **counts)
    minutes = THROUGHPUT_WINDOW.total_seconds() / 60
    stages = []
    for stage in STAGES:
        by_status = {status: totals[f"{stage.name}:{status}"] for status in StageStatus.values}
        finished = totals[f"{stage.name}:recent"]
        per_minute = round(finished / minutes, 2)
        blocked = totals[f"{stage.name}:blocked"]
        remaining = by_status[StageStatus.PENDING] - blocked + by_status[StageStatus.RUNNING]
        eta = 0.0 if not remaining else (round(remaining / per_minute, 1) if per_minute else None)
        stages.append(
            {
                "stage": stage.name,
                **by_status,
                "blocked": blocked,
                "remaining": remaining,
                "throughput": {
                    "window_minutes": minutes,
                    "finished": finished,
                    "per_minute": per_minute,
                    "exact": stage.name == "probe",
                },
                "eta_minutes": eta,
            }
        )
    groups: dict[str, dict] = {}
    failed = videos.filter(failed_before).order_by("id").values_list("id", "external_id", "error")
    for video_id, external_id, error in failed.iterator(chunk_size=5000):
        reason = failure_reason(error)
        group = groups.setdefault(
            reason, {"reason": reason, "stage": reason.split(":")[0], "count": 0, "videos": []}
        )
        group["count"] += 1
        if len(group["videos"]) < FAILED_VIDEOS_LISTED:
            group["videos"].append({"id": video_id, "external_id": external_id})
    if "(no error recorded)" in groups:
        groups["(no error recorded)"]["stage"] = None
    failures = sorted(groups.values(), key=lambda g: (-g["count"], g["reason"]))
    return {
        "videos": totals["videos"],
        "stages": stages,
        "failed_videos": sum(g["count"] for g in failures),
        "failures": failures,
        "generated_at": now.isoformat(),
    }


# Label quality -----------------------------------------------------------------------------------


def _estimate(row: NoiseEstimate | None) -> dict | None:
    if row is None:
        return None
    return {
        "rate": row.rate, "low": row.low, "high": row.high, "n": row.n, "noisy": row.noisy,
        "method": row.method, "interval": row.interval, "confidence": row.confidence,
    }  # fmt: skip


def _side_by_side(human: list[NoiseEstimate], model: list[NoiseEstimate], scope: str) -> dict[str, dict]:
    rows: dict[str, dict] = {}
    for estimator, estimates in (("human", human), ("model", model)):
        for estimate in estimates:
            if estimate.scope == scope:
                rows.setdefault(estimate.key, {"key": estimate.key, "human": None, "model": None})
                rows[estimate.key][estimator] = _estimate(estimate)
    return rows


def _by_rate(row: dict) -> tuple:
    """Highest human rate first; rows without one after, by model rate, then by name."""
    human, model = row["human"], row["model"]
    return (
        human is None,
        -(human or {}).get("rate", 0),
        model is None,
        -(model or {}).get("rate", 0),
        row["key"],
    )


def dashboard_quality(*, dataset: Dataset, limit: int, offset: int) -> dict:
    """The latest human noise estimates (overall, per topic, per macro topic, per split subset)
    with their 95 % intervals and the model's beside them, the bias of the human estimate, the
    history of the overall rate, kappa / alpha overall and per topic from the latest aggregation,
    and its most disputed videos. Every topic of the dataset has a row (a topic with no judged
    video has human null), sorted by human rate, highest first, and paged."""
    human = noise_estimate_latest(dataset)
    model = noise_estimate_latest(dataset, estimator=NoiseEstimate.Estimator.MODEL)
    run = aggregation_run_latest(dataset=dataset)
    agreement = (run.agreement if run else None) or {}
    by_topic = agreement.get("by_topic", {})
    topics = _side_by_side(human, model, NoiseEstimate.Scope.TOPIC)
    for name, macro in Topic.objects.filter(dataset=dataset).values_list("name", "macro_topic"):
        topics.setdefault(name, {"key": name, "human": None, "model": None})["macro_topic"] = macro
    for name, row in topics.items():
        row.setdefault("macro_topic", None)
        kappa = by_topic.get(name, {})
        row.update(kappa=kappa.get("kappa"), alpha=kappa.get("alpha"), answered_videos=kappa.get("videos", 0))
    overall = _side_by_side(human, model, NoiseEstimate.Scope.DATASET).get("", {"human": None, "model": None})
    history = noise_estimate_history(dataset, limit=HISTORY_LISTED)
    return {
        "overall": {"human": overall["human"], "model": overall["model"]},
        # USV's extrapolation to the videos no one judged, human and model.
        "unverified": {
            "human": _extrapolated(next((e for e in human if e.scope == "extrapolation"), None)),
            "model": _extrapolated(next((e for e in model if e.scope == "extrapolation"), None)),
        },
        "bias": noise_bias(human),
        "topics": page(sorted(topics.values(), key=_by_rate), limit=limit, offset=offset),
        "macro_topics": sorted(
            _side_by_side(human, model, NoiseEstimate.Scope.MACRO_TOPIC).values(), key=_by_rate
        ),
        "splits": sorted(
            _side_by_side(human, model, NoiseEstimate.Scope.SPLIT).values(), key=lambda r: r["key"]
        ),
        # Oldest first, as a chart draws it: every estimator and method of the dataset-wide rate.
        "history": [
            {"created_at": e.created_at.isoformat(), "estimator": e.estimator, **_estimate(e)}
            for e in reversed(history)
        ],
        "agreement": {
            "run": run.id if run else None,
            "method": run.method if run else None,
            "kappa": agreement.get("kappa"),
            "alpha": agreement.get("alpha"),
            "paired_videos": agreement.get("paired_videos", 0),
        },
        "disputed": disputed_list(run=run)[:DISPUTED_LISTED] if run else [],
    }


def _extrapolated(row: NoiseEstimate | None) -> dict | None:
    if row is None:
        return None
    return {**_estimate(row), "population": row.population, "expected_low": row.expected_low,
            "expected_high": row.expected_high}  # fmt: skip


# Thumbnails and frames ---------------------------------------------------------------------------


def thumbnail_similarity_distribution(*, dataset: Dataset) -> dict:
    """The ground truth's similarity to the posted thumbnail (the paper's mean: 93.8 %), in bins
    of 0.05 from 0 to 1 (1.0 falls in the last), with the videos that have no ground-truth frame."""
    bins = round(1 / SIMILARITY_BIN)
    counts = [0] * bins
    total, n, truths, needs_check = 0.0, 0, 0, 0
    rows = ThumbnailTruth.objects.filter(video__dataset=dataset).values_list("similarity", "needs_check")
    for similarity, check in rows.iterator(chunk_size=5000):
        truths += 1
        needs_check += check
        if similarity is None:
            continue
        n += 1
        total += similarity
        counts[min(int(similarity / SIMILARITY_BIN + 1e-9), bins - 1)] += 1
    return {
        "bins": [
            {"low": round(i * SIMILARITY_BIN, 2), "high": round((i + 1) * SIMILARITY_BIN, 2), "videos": c}
            for i, c in enumerate(counts)
        ],
        "n": n,
        "mean": round(total / n, 4) if n else None,
        "needs_check": needs_check,
        "without_truth": truths - n,
    }


def _frame_counts() -> dict:
    good = Q(is_dark=False, is_blurry=False, is_uniform=False)
    return {
        "frames": Count("id"),
        "dark": Count("id", filter=Q(is_dark=True)),
        "blurry": Count("id", filter=Q(is_blurry=True)),
        "uniform": Count("id", filter=Q(is_uniform=True)),
        "flagged": Count("id", filter=~good),
        # A good frame that is not a candidate lost to a near-duplicate of its cluster.
        "near_duplicate": Count("id", filter=good & Q(is_candidate=False)),
    }


def _frame_row(counts: dict) -> dict:
    frames = counts["frames"]
    return {
        "frames": frames,
        **{flag: counts[flag] for flag in (*FRAME_FLAGS, "flagged")},
        "shares": {flag: _share(counts[flag], frames) for flag in (*FRAME_FLAGS, "flagged")},
    }


def dashboard_frames(*, dataset: Dataset, limit: int, offset: int) -> dict:
    """Share of the sampled frames flagged dark / blurry / uniform, and of the good frames dropped
    as near-duplicates, over the dataset and per weak topic (most flagged first, paged), with a
    few example frames per flag (the page shows /frames/<id>/image). `flagged`: frames with any of
    dark / blurry / uniform (a frame may have two)."""
    frames = Frame.objects.filter(video__dataset=dataset)
    overall = _frame_row(frames.aggregate(**_frame_counts()))
    per_topic = (
        frames.filter(video__weak_topic__isnull=False)
        .values("video__weak_topic__name")
        .annotate(**_frame_counts())
        .order_by()
    )
    topics = []
    for row in per_topic:
        topics.append({"topic": row["video__weak_topic__name"], **_frame_row(row)})
    flagged = {"dark": Q(is_dark=True), "blurry": Q(is_blurry=True), "uniform": Q(is_uniform=True)}
    flagged["near_duplicate"] = Q(is_dark=False, is_blurry=False, is_uniform=False, is_candidate=False)
    examples = {
        flag: list(frames.filter(condition).order_by("id").values_list("id", flat=True)[:FRAME_EXAMPLES])
        for flag, condition in flagged.items()
    }
    return {
        "dataset": overall,
        "topics": page(
            sorted(topics, key=lambda r: (-r["shares"]["flagged"], r["topic"])), limit=limit, offset=offset
        ),
        "examples": examples,
    }


# Models ------------------------------------------------------------------------------------------


def _metrics(subsets: dict | None) -> dict:
    """{val: {mca, top5, map_tag}, test: {...}} of one model's metrics (values; null if absent)."""
    subsets = subsets or {}
    return {
        subset: {name: ((subsets.get(subset) or {}).get(name) or {}).get("value") for name in METRICS_SHOWN}
        for subset in ("val", "test")
    }


def dashboard_models(*, dataset: Dataset) -> dict:
    """Every ModelRun of the dataset, newest first, with the per-branch and fused metrics; the
    latest finished run's learnability (MV-58K: AP against log10 training examples) and the topics
    it cannot learn."""
    runs = ModelRun.objects.filter(dataset=dataset).defer("state").order_by("-created_at", "-id")
    rows = []
    for run in runs:
        metrics = run.metrics or {}
        fused = metrics.get("fused") or {}
        rows.append(
            {
                "id": run.id,
                "version": run.version,
                "status": run.status,
                "created_at": run.created_at.isoformat(),
                "finished_at": run.finished_at.isoformat() if run.finished_at else None,
                "train_seconds": run.train_seconds,
                "error": run.error,
                "refused": metrics.get("refused") or None,
                "used": metrics.get("used"),
                "winner": metrics.get("winner"),
                "branches": {name: _metrics(m) for name, m in (metrics.get("branches") or {}).items()},
                "fused": {kind: _metrics(m) for kind, m in fused.items() if kind != "weights"},
            }
        )
    learnable = learnability(dataset=dataset)
    return {"runs": rows, "learnability": learnable, "unlearnable": learnable["unlearnable"]}

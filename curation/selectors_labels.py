"""Reads of aggregation runs and verdicts, with their joins inside (noise estimates: noise.py)."""

from django.db.models import Count, QuerySet

from curation.models import AggregationMethod, AggregationRun, Dataset, VerdictLabel, Video, VideoVerdict


def aggregation_run_latest(*, dataset: Dataset) -> AggregationRun | None:
    """The dataset's latest aggregation of human answers. A bulk acceptance of model pre-labels
    (method "model") is an AggregationRun too, but never this one: whatever reads "the latest
    aggregation's method" (verdict counts, a split's noise, an export's verdicts, the quality page)
    reads human verdicts only."""
    return (
        AggregationRun.objects.filter(dataset=dataset)
        .exclude(method=AggregationMethod.MODEL)
        .order_by("-created_at", "-id")
        .first()
    )


def verdict_list(*, dataset: Dataset, method: str | None = None) -> QuerySet[VideoVerdict]:
    """The dataset's verdicts (of one method, else all), with their videos, in video order."""
    verdicts = (
        VideoVerdict.objects.filter(dataset=dataset).select_related("video").order_by("video_id", "method")
    )
    return verdicts.filter(method=method) if method else verdicts


def verdict_counts(*, dataset: Dataset) -> dict | None:
    """The dataset's authoritative topic verdicts, counted: those of its latest aggregation run's
    method, every label (zeros too); None before the first run. Every page and report that shows
    verdict counts reads them here, so none can disagree with another."""
    run = aggregation_run_latest(dataset=dataset)
    if run is None:
        return None
    verdicts = VideoVerdict.objects.filter(dataset=dataset, method=run.method)
    counted = dict(verdicts.values_list("label").annotate(n=Count("id")).values_list("label", "n"))
    return {"run": run, "counts": {label: counted.get(label, 0) for label in VerdictLabel.values}}


def disputed_list(*, run: AggregationRun) -> list[dict]:
    """The run's most disputed videos, most disputed first, with title, weak topic, answer counts
    and the video's current verdict under the run's method (None when it has gone since)."""
    disputed = (run.agreement or {}).get("disputed", [])
    ids = [d["video"] for d in disputed]
    videos = Video.objects.filter(id__in=ids).select_related("weak_topic").in_bulk()
    verdicts = VideoVerdict.objects.filter(dataset_id=run.dataset_id, method=run.method, video_id__in=ids)
    labels = dict(verdicts.values_list("video_id", "label"))
    rows = []
    for d in disputed:
        video = videos.get(d["video"])
        if video is None:
            continue
        rows.append(
            {
                **d,
                "external_id": video.external_id,
                "title": video.title,
                "topic": video.weak_topic.name if video.weak_topic else None,
                "verdict": labels.get(d["video"]),
            }
        )
    return rows


def quality_overview(*, dataset: Dataset) -> dict | None:
    """What the staff quality page shows for one dataset, None when it was never aggregated."""
    from curation.services.labels.noise import noise_bias, noise_estimate_history, noise_estimate_latest

    run = aggregation_run_latest(dataset=dataset)
    latest = noise_estimate_latest(dataset)
    model = noise_estimate_latest(dataset, estimator="model")
    if run is None and not latest:
        return None
    by_scope: dict[str, list] = {}
    for estimate in latest:
        by_scope.setdefault(estimate.scope, []).append(estimate)
    extrapolation = (by_scope.get("extrapolation") or [None])[0]
    agreement = (run.agreement if run else None) or {}
    return {
        "dataset": dataset,
        "run": run,
        # The unbiased human rate (key ""): over the random-order videos when a model-driven order
        # chose some; the biased plain rate is a row of its own, explained by `bias`.
        "overall": next((e for e in by_scope.get("dataset", []) if e.key == ""), None),
        "bias": noise_bias(latest),
        "model_extrapolation": next((e for e in model if e.scope == "extrapolation"), None),
        "macro_topics": by_scope.get("macro_topic", []),
        "topics": by_scope.get("topic", []),
        "splits": by_scope.get("split", []),
        "extrapolation": extrapolation,
        "expected_noisy": round(extrapolation.rate * extrapolation.population) if extrapolation else None,
        "verdicts": verdict_counts(dataset=dataset),
        "kappa": agreement.get("kappa"),
        "alpha": agreement.get("alpha"),
        "disputed": disputed_list(run=run)[:20] if run else [],
        "history": noise_estimate_history(dataset, limit=20),
    }

"""Noise estimates with confidence intervals, from a method's verdicts, kept as history.

A rate is the share of judged videos whose verdict is noise: `n` counts the videos with a
verdict of verified or noise, `noisy` those of noise. Pending videos (fewer answers than their
overlap) are not judged: they count with the unverified ones. Disagreements (one Yes, one No) and unsure
verdicts are left out of both: their truth is unknown, and counting them as clean — as USV's
accounting does, since a disputed video stays in the set — would pull the rate down by the
share of disputes, counting them as noise would push it up. The interval (Wilson or
Clopper–Pearson, from `ml.intervals`) is for that judged rate; how well it stands for the true
rate depends on the annotators (`ml.intervals.corrected_estimate` undoes the rule's known
errors).

Scopes: the dataset, each weak topic, each macro topic, each subset of each split that has
judged members ("split name/subset"; members left out of every subset are not a subset), and
USV's extrapolation: the dataset's judged rate applied to its unverified videos (no verdict of
this method), stated as a 95 % prediction interval on their expected noisy count
(`ml.intervals.extrapolate`, beta-binomial predictive). That step assumes the judged videos are
a random sample of the dataset — true for tasks served in random order, not when a model's
scores chose which videos people saw first.

Biased selection (issue 16). When a model-driven verification order (likely_noise, uncertain,
hard_negatives; annotator `Task.selected_by`) chose some of the judged videos, their share of
noise says nothing about the dataset's: a likely_noise round is mostly noise by design. USV's
protocol allows a rate only over a random sample, so every scope is then computed over the
random-order videos alone (with their n), and the plain rate over all judged videos is kept
beside it, marked: a dataset row whose key is "biased:<orders>". No extrapolation is recorded:
the unverified videos are what the orders left behind, not a random remainder (the model-based
estimate, `noise_model.py`, covers them). `noise_bias` reads the marking back as the reason
the reports print and the API returns.

Only human verdicts (usv, mv, ds) make a human estimate: accepted model pre-labels (method
"model") are refused here and never counted.

Every computation adds rows, all stamped with one time, so the latest batch and the history of
any scope are plain queries. `estimator` = "human" here; the model-based estimate
(`noise_model.py`) writes rows with estimator "model" beside these.
"""

from collections.abc import Mapping

from django.db import transaction
from django.db.models import BooleanField, Count, Q
from django.db.models.expressions import RawSQL
from django.utils import timezone

from curation.errors import CurationError
from curation.models import (
    AggregationMethod,
    AggregationRun,
    Dataset,
    NoiseEstimate,
    SplitMember,
    Video,
    VideoVerdict,
)
from ml.intervals import INTERVALS, IntervalError, extrapolate, noise_estimate
from ml.verdicts import NOISE, PENDING, VERIFIED

JUDGED = (VERIFIED, NOISE)
HUMAN_METHODS = tuple(m for m in AggregationMethod.values if m != AggregationMethod.MODEL)
RANDOM_ORDER = "random"
BIASED_PREFIX = "biased:"  # the key of the plain rate over all judged videos, when it is biased
# The stored name of ml.intervals.extrapolate's interval ("beta-binomial-predictive" is longer
# than the column).
EXTRAPOLATION_INTERVAL = "beta-binomial"


class NoiseEstimateError(CurationError):
    pass


def _counts(rows) -> list[tuple[str, int, int]]:
    """(key, noisy, n) per group from `.values(key).annotate(noisy, n)` rows, judged ones only."""
    return [(str(key), noisy, n) for key, noisy, n in rows if key not in (None, "") and n > 0]


def _grouped(verdicts, *keys: str):
    noisy = Count("id", filter=Q(label=NOISE))
    return verdicts.values_list(*keys).annotate(noisy=noisy, n=Count("id")).order_by(*keys)


def _video_among(model, ids: list[int]) -> RawSQL:
    """`video_id = ANY(ids)` as one array parameter: a likely_noise round can be 100,000 videos,
    past the 65,535 parameters of an `IN (…)` list."""
    column = f'"{model._meta.db_table}"."video_id"'
    return RawSQL(f"{column} = ANY(%s::bigint[])", (ids,), output_field=BooleanField())


def _groups(judged, members, method: str, exclude: list[int]) -> list[tuple[str, str, int, int]]:
    """(scope, key, noisy, n) of the dataset, its topics, macro topics and split subsets, over
    the judged verdicts of `method` (and, from the split members' side, the same verdicts), less
    the videos in `exclude`."""
    if exclude:
        judged = judged.exclude(_video_among(VideoVerdict, exclude))
        members = members.exclude(_video_among(SplitMember, exclude))
    total = judged.aggregate(noisy=Count("id", filter=Q(label=NOISE)), n=Count("id"))
    if not total["n"]:
        return []
    groups: list[tuple[str, str, int, int]] = [("dataset", "", total["noisy"], total["n"])]
    for scope, field in (
        ("topic", "video__weak_topic__name"),
        ("macro_topic", "video__weak_topic__macro_topic"),
    ):
        groups += [(scope, key, k, n) for key, k, n in _counts(_grouped(judged, field))]
    keys = ("split__name", "subset")
    # One filter() each, so the verdict join is the one being counted (a second filter() call on
    # a multi-valued relation joins again: another method's verdict would count).
    n_by_subset = members.filter(video__verdicts__method=method, video__verdicts__label__in=JUDGED)
    noisy_by_subset = members.filter(video__verdicts__method=method, video__verdicts__label=NOISE)
    noisy_of = dict(
        ((name, subset), k) for name, subset, k in noisy_by_subset.values_list(*keys).annotate(Count("id"))
    )
    for name, subset, n in n_by_subset.values_list(*keys).annotate(Count("id")).order_by(*keys):
        groups.append(("split", f"{name}/{subset}", noisy_of.get((name, subset), 0), n))
    return groups


@transaction.atomic
def noise_estimates_record(
    *,
    dataset: Dataset,
    method: str,
    run: AggregationRun | None = None,
    interval: str = "wilson",
    selection: Mapping[int, str] | None = None,
) -> list[NoiseEstimate]:
    """Record a batch of human estimates from the dataset's `method` verdicts; returns the rows
    (none when no video has a verified or noise verdict).

    `selection`: video id → the verification order that chose it, for the videos a non-random
    order chose (the annotator app passes its tasks' `selected_by`; imported answers have none).
    """
    if interval not in INTERVALS:
        raise NoiseEstimateError(f"unknown interval {interval!r} (use one of {', '.join(INTERVALS)})")
    if method not in HUMAN_METHODS:
        raise NoiseEstimateError(
            f"{method!r} verdicts are not human verdicts: a human noise estimate reads only "
            f"{', '.join(HUMAN_METHODS)}"
        )
    verdicts = VideoVerdict.objects.filter(dataset=dataset, method=method)
    judged = verdicts.filter(label__in=JUDGED)
    members = SplitMember.objects.filter(split__dataset=dataset).exclude(subset="")
    chosen = {int(v): str(order) for v, order in (selection or {}).items() if order != RANDOM_ORDER}
    chosen_judged = (
        [v for v in judged.values_list("video_id", flat=True).iterator(chunk_size=20_000) if v in chosen]
        if chosen
        else []
    )
    groups = _groups(judged, members, method, chosen_judged)
    if chosen_judged:
        everything = judged.aggregate(noisy=Count("id", filter=Q(label=NOISE)), n=Count("id"))
        orders = ",".join(sorted({chosen[v] for v in chosen_judged}))
        groups.append(("dataset", f"{BIASED_PREFIX}{orders}", everything["noisy"], everything["n"]))
    if not groups:
        return []

    def row(scope: str, key: str, noisy: int, n: int) -> NoiseEstimate:
        try:
            estimate = noise_estimate(noisy, n, scope=scope, method=method, kind=interval)
        except IntervalError as exc:
            raise NoiseEstimateError(f"{scope} {key}: {exc}") from None
        return NoiseEstimate(
            dataset=dataset, estimator=NoiseEstimate.Estimator.HUMAN, method=method, scope=scope, key=key,
            noisy=noisy, n=n, rate=estimate.rate, low=estimate.low, high=estimate.high, interval=interval,
            confidence=estimate.confidence, run=run,
        )  # fmt: skip

    rows = [row(*group) for group in groups]
    population = Video.objects.filter(dataset=dataset).count() - verdicts.exclude(label=PENDING).count()
    # Nothing unverified: nothing to extrapolate to; a biased selection: no random remainder.
    if population > 0 and not chosen_judged:
        _, _, noisy, n = groups[0]
        sample = noise_estimate(noisy, n, method=method, kind=interval)
        prediction = extrapolate(sample, population)
        rows.append(
            NoiseEstimate(
                dataset=dataset, estimator=NoiseEstimate.Estimator.HUMAN, method=method,
                scope=NoiseEstimate.Scope.EXTRAPOLATION, key="", noisy=noisy, n=n,
                rate=sample.rate,
                # The predictive interval of a discrete count can round to just inside the rate.
                low=min(prediction.low_rate, sample.rate), high=max(prediction.high_rate, sample.rate),
                interval=EXTRAPOLATION_INTERVAL, confidence=sample.confidence, population=population,
                expected_low=prediction.low_noisy, expected_high=prediction.high_noisy, run=run,
            )
        )  # fmt: skip
    return stamp_batch(NoiseEstimate.objects.bulk_create(rows))


def stamp_batch(created: list[NoiseEstimate]) -> list[NoiseEstimate]:
    """One stamp for the batch (auto_now_add gives each row its own instant)."""
    stamp = timezone.now()
    NoiseEstimate.objects.filter(id__in=[r.id for r in created]).update(created_at=stamp)
    for estimate in created:
        estimate.created_at = stamp
    return created


def noise_bias(estimates: list[NoiseEstimate]) -> dict:
    """Whether a batch of human estimates is biased by a non-random verification order, and the
    reason in words: {"biased", "reason", "orders", "chosen", "judged", "random_judged"}."""
    marked = next((e for e in estimates if e.scope == "dataset" and e.key.startswith(BIASED_PREFIX)), None)
    if marked is None:
        return {
            "biased": False, "reason": "", "orders": [], "chosen": 0, "judged": None, "random_judged": None,
        }  # fmt: skip
    unbiased = next((e for e in estimates if e.scope == "dataset" and e.key == ""), None)
    random_judged = unbiased.n if unbiased else 0
    orders = marked.key.removeprefix(BIASED_PREFIX).split(",")
    chosen = marked.n - random_judged
    named = " and ".join(orders)
    reason = (
        f"biased: {chosen} of {marked.n} judged videos were chosen by {named} order; "
        f"their rate ({marked.rate:.1%}) is not the dataset's noise rate. "
        + (
            f"The human estimate is over the {random_judged} random-order videos only"
            if random_judged
            else "No video was judged in random order, so there is no unbiased human estimate"
        )
        + "; no extrapolation to the unverified videos (see the model estimate)."
    )
    return {
        "biased": True, "reason": reason, "orders": orders, "chosen": chosen, "judged": marked.n,
        "random_judged": random_judged,
    }  # fmt: skip


def noise_estimate_latest(dataset: Dataset, *, estimator: str = NoiseEstimate.Estimator.HUMAN) -> list:
    """The latest batch of one estimator's estimates for the dataset: dataset, macro topics,
    topics, split subsets, extrapolation (in that order, then by key)."""
    estimates = NoiseEstimate.objects.filter(dataset=dataset, estimator=estimator)
    latest = estimates.order_by("-created_at").values_list("created_at", flat=True).first()
    if latest is None:
        return []
    order = {"dataset": 0, "macro_topic": 1, "topic": 2, "split": 3, "extrapolation": 4}
    rows = list(estimates.filter(created_at=latest))
    return sorted(rows, key=lambda e: (order.get(e.scope, 9), e.key))


def noise_estimate_history(
    dataset: Dataset, *, scope: str = NoiseEstimate.Scope.DATASET, key: str = "", limit: int = 100
) -> list:
    """Estimates of one scope over time, newest first, every estimator and method."""
    rows = NoiseEstimate.objects.filter(dataset=dataset, scope=scope, key=key)
    return list(rows.order_by("-created_at", "-id")[:limit])

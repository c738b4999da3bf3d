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

Every computation adds rows, all stamped with one time, so the latest batch and the history of
any scope are plain queries. `estimator` = "human" here; a model-based estimate (later issue)
writes rows with estimator "model" and its model's name as `method`, beside these.
"""

from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from curation.errors import CurationError
from curation.models import AggregationRun, Dataset, NoiseEstimate, SplitMember, Video, VideoVerdict
from ml.intervals import INTERVALS, IntervalError, extrapolate, noise_estimate
from ml.verdicts import NOISE, PENDING, VERIFIED

JUDGED = (VERIFIED, NOISE)
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


@transaction.atomic
def noise_estimates_record(
    *, dataset: Dataset, method: str, run: AggregationRun | None = None, interval: str = "wilson"
) -> list[NoiseEstimate]:
    """Record a batch of human estimates from the dataset's `method` verdicts; returns the rows
    (none when no video has a verified or noise verdict)."""
    if interval not in INTERVALS:
        raise NoiseEstimateError(f"unknown interval {interval!r} (use one of {', '.join(INTERVALS)})")
    verdicts = VideoVerdict.objects.filter(dataset=dataset, method=method)
    judged = verdicts.filter(label__in=JUDGED)
    total = judged.aggregate(noisy=Count("id", filter=Q(label=NOISE)), n=Count("id"))
    if not total["n"]:
        return []
    groups: list[tuple[str, str, int, int]] = [("dataset", "", total["noisy"], total["n"])]
    for scope, field in (
        ("topic", "video__weak_topic__name"),
        ("macro_topic", "video__weak_topic__macro_topic"),
    ):
        groups += [(scope, key, k, n) for key, k, n in _counts(_grouped(judged, field))]
    # From the members' side, one filter() each, so the verdict join is the one being counted.
    members = SplitMember.objects.filter(split__dataset=dataset).exclude(subset="")
    keys = ("split__name", "subset")
    n_by_subset = members.filter(video__verdicts__method=method, video__verdicts__label__in=JUDGED)
    noisy_by_subset = members.filter(video__verdicts__method=method, video__verdicts__label=NOISE)
    noisy_of = dict(
        ((name, subset), k) for name, subset, k in noisy_by_subset.values_list(*keys).annotate(Count("id"))
    )
    for name, subset, n in n_by_subset.values_list(*keys).annotate(Count("id")).order_by(*keys):
        groups.append(("split", f"{name}/{subset}", noisy_of.get((name, subset), 0), n))

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
    if population > 0:  # nothing unverified: nothing to extrapolate to
        sample = noise_estimate(total["noisy"], total["n"], method=method, kind=interval)
        prediction = extrapolate(sample, population)
        rows.append(
            NoiseEstimate(
                dataset=dataset, estimator=NoiseEstimate.Estimator.HUMAN, method=method,
                scope=NoiseEstimate.Scope.EXTRAPOLATION, key="", noisy=total["noisy"], n=total["n"],
                rate=sample.rate,
                # The predictive interval of a discrete count can round to just inside the rate.
                low=min(prediction.low_rate, sample.rate), high=max(prediction.high_rate, sample.rate),
                interval=EXTRAPOLATION_INTERVAL, confidence=sample.confidence, population=population,
                expected_low=prediction.low_noisy, expected_high=prediction.high_noisy, run=run,
            )
        )  # fmt: skip
    created = NoiseEstimate.objects.bulk_create(rows)
    # One stamp for the batch (auto_now_add gives each row its own instant).
    stamp = timezone.now()
    NoiseEstimate.objects.filter(id__in=[r.id for r in created]).update(created_at=stamp)
    for estimate in created:
        estimate.created_at = stamp
    return created


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

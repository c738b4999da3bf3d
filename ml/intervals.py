"""Noise rates with 95 % intervals: Wilson, Clopper–Pearson, and USV's extrapolation.

USV verified a random sample of videos (31,260) with two annotators and removed the 6,788 both
judged off-topic: 21.7 %. That share is an estimate of a population rate, so it carries an
interval; applied to the unverified training set it becomes a prediction, with a wider one.
And the two-annotator rule itself errs (two careless No's on a good video, a Yes let through on
a bad one), so `corrected_estimate` undoes the rule's known error rates (Rogan–Gladen) when the
annotators' accuracies are known, e.g. from gold answers or Dawid–Skene's confusion matrices.
"""

from dataclasses import asdict, dataclass

import numpy as np

INTERVALS = ("wilson", "clopper-pearson")


class IntervalError(ValueError):
    pass


@dataclass(frozen=True)
class NoiseEstimate:
    """One estimate of a noise rate. `method` says where it came from, so a model-based
    estimate ("model:<name>") sits beside the human one ("human:usv-rule") in the same table."""

    method: str
    scope: str  # "dataset", "topic:<name>", "macro:<name>", "split:<name>/<subset>", …
    noisy: float  # count (or expected count, for a corrected estimate)
    n: int
    rate: float
    low: float
    high: float
    interval: str  # "wilson", "clopper-pearson", "beta-binomial-predictive", …
    confidence: float = 0.95

    def as_dict(self) -> dict:
        return asdict(self)


def _stats():
    """scipy.stats, imported on first use: importing it costs about 0.7 s of CPU and 60 MB, and every
    Django process loads this module (through its URLs) whether it estimates anything or not."""
    from scipy import stats

    return stats


def _check(noisy: float, n: int, confidence: float) -> None:
    if n <= 0:
        raise IntervalError("an interval needs at least one verified item (n = 0)")
    if not 0 <= noisy <= n:
        raise IntervalError(f"noisy count {noisy} is outside 0..{n}")
    if not 0 < confidence < 1:
        raise IntervalError(f"confidence must be between 0 and 1, not {confidence}")


def wilson(noisy: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval (1927): good coverage near 0 and 1, never outside [0, 1]."""
    _check(noisy, n, confidence)
    z = _stats().norm.ppf(0.5 + confidence / 2)
    p = noisy / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    low, high = max(0.0, float(centre - half)), min(1.0, float(centre + half))
    return (0.0 if noisy == 0 else low), (1.0 if noisy == n else high)


def clopper_pearson(noisy: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Exact (Clopper–Pearson 1934) interval from beta quantiles: coverage at least `confidence`."""
    _check(noisy, n, confidence)
    alpha = 1 - confidence
    low = 0.0 if noisy == 0 else float(_stats().beta.ppf(alpha / 2, noisy, n - noisy + 1))
    high = 1.0 if noisy == n else float(_stats().beta.ppf(1 - alpha / 2, noisy + 1, n - noisy))
    return low, high


def interval(noisy: int, n: int, kind: str = "wilson", confidence: float = 0.95) -> tuple[float, float]:
    if kind == "wilson":
        return wilson(noisy, n, confidence)
    if kind == "clopper-pearson":
        return clopper_pearson(noisy, n, confidence)
    raise IntervalError(f"unknown interval {kind!r} (use one of {', '.join(INTERVALS)})")


def noise_estimate(
    noisy: int,
    n: int,
    *,
    scope: str = "dataset",
    method: str = "human:usv-rule",
    kind: str = "wilson",
    confidence: float = 0.95,
) -> NoiseEstimate:
    """The share of verified items judged noise, with its interval."""
    low, high = interval(noisy, n, kind, confidence)
    return NoiseEstimate(method, scope, noisy, n, noisy / n, low, high, kind, confidence)


def noise_estimates_by(
    noisy: np.ndarray,
    groups: np.ndarray,
    *,
    prefix: str,
    method: str = "human:usv-rule",
    kind: str = "wilson",
    confidence: float = 0.95,
) -> list[NoiseEstimate]:
    """One estimate per group (topic, macro topic, split subset) of verified items, in the order
    groups first appear; scopes read `<prefix>:<group>`."""
    noisy = np.asarray(noisy, dtype=bool)
    names, codes = np.unique(np.asarray(groups), return_inverse=True)
    if noisy.shape != codes.shape:
        raise IntervalError("need one noise flag per grouped item")
    n = np.bincount(codes, minlength=names.size)
    k = np.bincount(codes, weights=noisy, minlength=names.size).astype(int)
    first = np.full(names.size, codes.size)
    np.minimum.at(first, codes, np.arange(codes.size))
    return [
        noise_estimate(int(k[g]), int(n[g]), scope=f"{prefix}:{names[g]}", method=method, kind=kind,
                       confidence=confidence)
        for g in np.argsort(first, kind="stable")
    ]  # fmt: skip


def corrected_estimate(
    noisy: int,
    n: int,
    *,
    sensitivity: float,
    false_positive_rate: float,
    scope: str = "dataset",
    method: str = "human:usv-rule,corrected",
    kind: str = "wilson",
    confidence: float = 0.95,
) -> NoiseEstimate:
    """The true noise rate behind a judged share, given how often the rule calls noise on a
    noisy item (`sensitivity`) and on a clean one (`false_positive_rate`).

    judged = rate·sensitivity + (1 − rate)·fpr is increasing in `rate`, so the interval's ends map
    through the same inverse (Rogan & Gladen 1978) and keep their coverage.
    """
    youden = sensitivity - false_positive_rate
    if youden <= 0:
        raise IntervalError("the rule must call noise more often on noisy items than on clean ones")
    low, high = interval(noisy, n, kind, confidence)

    def invert(judged: float) -> float:
        return float(np.clip((judged - false_positive_rate) / youden, 0.0, 1.0))

    rate = invert(noisy / n)
    return NoiseEstimate(
        method, scope, rate * n, n, rate, invert(low), invert(high), f"{kind},corrected", confidence
    )


def usv_rule_characteristics(p_no_if_noise: np.ndarray, p_no_if_clean: np.ndarray) -> tuple[float, float]:
    """(sensitivity, false-positive rate) of "two No ⇒ noise" when each item goes to two distinct
    workers drawn at random from this pool; per worker, P(answer No | noise) and P(No | clean)."""
    a = np.asarray(p_no_if_noise, dtype=float)
    b = np.asarray(p_no_if_clean, dtype=float)
    if a.shape != b.shape or a.size < 2:
        raise IntervalError("need the two probabilities for each of at least two workers")

    def both(p: np.ndarray) -> float:  # mean of p_i·p_j over ordered pairs i ≠ j
        return float((p.sum() ** 2 - (p * p).sum()) / (p.size * (p.size - 1)))

    return both(a), both(b)


@dataclass(frozen=True)
class Extrapolation:
    """USV's step: the verified sample's rate stands for the unverified training set."""

    sample: NoiseEstimate
    population: int  # unverified items the rate is applied to
    expected_noisy: float
    low_noisy: int
    high_noisy: int
    low_rate: float
    high_rate: float
    interval: str = "beta-binomial-predictive"


def extrapolate(sample: NoiseEstimate, population: int) -> Extrapolation:
    """Predict how many of `population` unverified items are noise, from a random verified sample.

    The sample's rate is uncertain (its own interval) and the unverified set is itself a draw, so
    the prediction interval comes from the beta-binomial predictive distribution with Jeffreys'
    prior: Beta(noisy + ½, n − noisy + ½) for the rate, Binomial(population, rate) given it. For a
    large population it approaches the sample's interval scaled up; for a small one it is wider.
    """
    if population < 0:
        raise IntervalError(f"the unverified population cannot be negative ({population})")
    alpha = 1 - sample.confidence
    n = sample.n
    if sample.interval.endswith("corrected"):
        # Undoing the rule's errors widens the rate's interval by 1/(sensitivity − fpr): use the
        # sample size that would give the corrected interval's width (an effective n).
        z = _stats().norm.ppf(1 - alpha / 2)
        spread = max((sample.high - sample.low) / (2 * z), 1e-12)
        n = max(1.0, min(sample.n, sample.rate * (1 - sample.rate) / spread**2))
    a, b = sample.rate * n + 0.5, (1 - sample.rate) * n + 0.5
    low, high = _betabinom_quantiles(population, a, b, (alpha / 2, 1 - alpha / 2))
    scale = max(population, 1)
    return Extrapolation(sample, population, sample.rate * population, low, high, low / scale, high / scale)


def _betabinom_quantiles(n: int, a: float, b: float, quantiles: tuple[float, float]) -> tuple[int, int]:
    """Beta-binomial quantiles from the pmf on a window of ±12 sd around the mean (the mass
    outside is below 1e-20): scipy's ppf walks the whole support, too slow for n in the 100,000s."""
    mean = n * a / (a + b)
    sd = np.sqrt(n * a * b * (a + b + n) / ((a + b) ** 2 * (a + b + 1)))
    first = int(max(0, np.floor(mean - 12 * sd - 5)))
    last = int(min(n, np.ceil(mean + 12 * sd + 5)))
    support = np.arange(first, last + 1)
    cdf = np.cumsum(_stats().betabinom.pmf(support, n, a, b))
    cdf /= cdf[-1]
    low, high = (int(support[min(np.searchsorted(cdf, q), support.size - 1)]) for q in quantiles)
    return low, high

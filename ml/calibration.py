"""Calibrated weak-topic probabilities, and the noise they predict among the videos nobody verified.

A model's weak-topic probability p ranks videos; whether 0.3 means "30 % of such videos are
clean" is another matter (heads trained on weak labels, fused, temperature-scaled on val). So the
map from p to P(clean) is learnt on the videos people judged (label 1 = verified, 0 = noise;
disagreements, unsure and pending verdicts are left out, as the human estimate leaves them out),
and the unverified videos' expected noise rate is mean(1 − calibrated p).

Two calibrators, both monotone in p:
- **Platt scaling** (Platt 1999): a logistic regression on logit(p), with Platt's smoothed targets
  ((N₊ + 1)/(N₊ + 2) for verified, 1/(N₋ + 2) for noise) so a separable calibration set cannot
  drive the slope to infinity. Two parameters: steady on a few dozen videos.
- **Isotonic regression** (Zadrozny & Elkan 2002): any non-decreasing map, linear between the
  fitted points. More flexible, so it needs more videos before it wins.
`method="auto"` picks the one with the lower held-out log-loss (5-fold cross-validation over the
calibration set, predictions clipped to [0.001, 0.999] for both, so a fold where isotonic says
0 or 1 is penalised, not infinite). The pick is made once; the bootstrap refits that method.

Label errors. The labels are USV's rule on two answers, not the truth: with workers of 60–95 %
accuracy two careless No's make a clean video noise and two careless Yes's let a noisy one
through, so the judged noise share (26 % when the truth is 21.7 %) is not the noise rate. With
`errors` (P(noise verdict | clean) and P(verified verdict | noise) among judged videos, e.g. from
the workers' known accuracies, `rule_errors`) the calibrator models
P(verified verdict | p) = e₁ + (1 − e₀ − e₁)·g(p) and g(p) is the true P(clean | p): the estimate
is then of the true noise rate. Without them (the product's default) it is of the rate the rule
would report had the unverified videos been verified, the same quantity as the human estimate.
Either way judging (two answers agreeing) must not depend on the truth, which holds for
symmetric workers.

The interval is a nonparametric bootstrap over the calibration set (Efron 1979): resample the
calibration videos with replacement, refit, and, since the question is how many of *these*
unverified videos are noise rather than what the expected rate is, draw each unverified video's
noise from its refitted probability; the replicate rates' percentiles are the interval. For a
large population the draw adds nothing; for a small one it widens the interval as the human
extrapolation's beta-binomial predictive does.

Pure numpy and scipy; no Django.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from ml.intervals import usv_rule_characteristics

METHODS = ("platt", "isotonic")
MIN_CALIBRATION = 20
FOLDS = 5
LOG_LOSS_CLIP = 1e-3
_EPS = 1e-6  # probabilities are clipped to [eps, 1 - eps] before the logit
_NEWTON_STEPS = 50
_RIDGE = 1e-6
_CELLS = 2_000_000  # replicates x unverified videos held at once


class CalibrationError(ValueError):
    pass


@dataclass(frozen=True)
class LabelErrors:
    """How often the verdict rule is wrong among judged videos (it agreed on a verdict)."""

    noise_if_clean: float = 0.0
    verified_if_noise: float = 0.0

    def __post_init__(self) -> None:
        for name in ("noise_if_clean", "verified_if_noise"):
            value = getattr(self, name)
            if not (np.isfinite(value) and 0.0 <= value < 1.0):
                raise CalibrationError(f"label error {name} must be in [0, 1), not {value}")
        if self.noise_if_clean + self.verified_if_noise >= 1.0:
            raise CalibrationError(
                "label errors leave the verdicts uninformative (noise_if_clean + verified_if_noise >= 1)"
            )

    @property
    def informative(self) -> float:
        return 1.0 - self.noise_if_clean - self.verified_if_noise


NO_ERRORS = LabelErrors()


def rule_errors(accuracy: Sequence[float]) -> LabelErrors:
    """USV's rule (two No ⇒ noise, two Yes ⇒ verified) on two distinct workers drawn from a pool
    of symmetric workers of these accuracies: its errors among the videos it judges."""
    a = np.asarray(accuracy, dtype=float)
    if a.ndim != 1 or a.size < 2 or not np.all((a >= 0) & (a <= 1)):
        raise CalibrationError("need the accuracy (0-1) of each of at least two workers")
    both_right, both_wrong = usv_rule_characteristics(a, 1 - a)  # P(two No | noise), P(two No | clean)
    judged = both_right + both_wrong
    if judged <= 0:
        raise CalibrationError("these workers never agree: the rule judges no video")
    return LabelErrors(noise_if_clean=both_wrong / judged, verified_if_noise=both_wrong / judged)


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, _EPS, 1 - _EPS)
    return np.log(p) - np.log1p(-p)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))  # overflow-free logistic


@dataclass(frozen=True)
class Calibrator:
    """p → calibrated P(clean). Platt: sigmoid(slope·logit(p) + intercept); isotonic: linear
    between (knots, values) on the logit scale, flat beyond them."""

    method: str
    errors: LabelErrors = NO_ERRORS
    slope: float = 1.0
    intercept: float = 0.0
    knots: np.ndarray = field(default_factory=lambda: np.zeros(0))
    values: np.ndarray = field(default_factory=lambda: np.zeros(0))
    log_loss: Mapping[str, float] = field(default_factory=dict)  # held-out, by method (auto only)

    def clean_probability(self, p: Sequence[float]) -> np.ndarray:
        return _clean(self.method, self.errors, self.slope, self.intercept, self.knots, self.values, p)

    def verdict_probability(self, p: Sequence[float]) -> np.ndarray:
        """P(the rule says verified | p): what the calibration labels measure."""
        e = self.errors
        return e.verified_if_noise + e.informative * self.clean_probability(p)


def _clean(method, errors, slope, intercept, knots, values, p) -> np.ndarray:
    x = _logit(np.asarray(p, dtype=float))
    if method == "platt":
        return _sigmoid(slope * x + intercept)
    verdict = np.interp(x, knots, values)
    return np.clip((verdict - errors.verified_if_noise) / errors.informative, 0.0, 1.0)


def _check_probabilities(p, what: str) -> np.ndarray:
    p = np.asarray(p, dtype=float)
    if p.ndim != 1:
        raise CalibrationError(f"{what} must be a flat list of probabilities")
    bad = np.flatnonzero(~(np.isfinite(p) & (p >= 0) & (p <= 1)))
    if bad.size:
        raise CalibrationError(f"{what} #{bad[0]} is {p[bad[0]]}: probabilities must be numbers in [0, 1]")
    return p


def _check_calibration(p, y) -> tuple[np.ndarray, np.ndarray]:
    p = _check_probabilities(p, "calibration probability")
    y = np.asarray(y)
    if y.shape != p.shape:
        raise CalibrationError(
            f"need one label per calibration probability ({p.size} probabilities, {y.size} labels)"
        )
    bad = np.flatnonzero(~np.isin(y, (0, 1)))
    if bad.size:
        raise CalibrationError(
            f"calibration label #{bad[0]} is {y.tolist()[bad[0]]!r}: labels are 1 (verified) or 0 (noise)"
        )
    y = y.astype(float)
    if p.size < MIN_CALIBRATION:
        raise CalibrationError(
            f"too few calibration videos: {p.size} verified or noise (need at least {MIN_CALIBRATION})"
        )
    if not (y == 0).any():
        raise CalibrationError(
            f"no noise among the {p.size} calibration videos: a calibration needs both kinds"
        )
    if not (y == 1).any():
        raise CalibrationError(
            f"no verified (clean) video among the {p.size} calibration videos: a calibration needs both kinds"
        )
    return p, y


# --- fitting: many weightings at once (the bootstrap's replicates are weightings) ---------------


def _platt_targets(y: np.ndarray) -> np.ndarray:
    positives, negatives = y.sum(), y.size - y.sum()
    return np.where(y == 1, (positives + 1) / (positives + 2), 1 / (negatives + 2))


def _platt_log_likelihood(x, t, w, a, b, errors: LabelErrors) -> np.ndarray:
    m = errors.verified_if_noise + errors.informative * _sigmoid(a[:, None] * x + b[:, None])
    m = np.clip(m, 1e-12, 1 - 1e-12)
    return (w * (t * np.log(m) + (1 - t) * np.log1p(-m))).sum(axis=1) - 0.5 * _RIDGE * (a * a + b * b)


def _platt_fit(
    x: np.ndarray, t: np.ndarray, w: np.ndarray, errors: LabelErrors
) -> tuple[np.ndarray, np.ndarray]:
    """Slope and intercept per row of weights w (R, n): Fisher scoring on the likelihood of the
    targets under P(verified | x) = e₁ + k·sigmoid(a·x + b), with step halving where a step
    would lower it; a row stops once its step or its gain in log-likelihood is negligible.
    Without label errors Fisher scoring is Newton's method (IRLS). With them the likelihood
    flattens where the fit nears a step function and a replicate can creep along that ridge for
    many steps without changing its fit: hence the stop on the gain."""
    k = errors.informative
    a, b = np.ones(w.shape[0]), np.zeros(w.shape[0])
    rows = np.arange(w.shape[0])
    current = _platt_log_likelihood(x, t, w, a, b, errors)
    for _ in range(_NEWTON_STEPS):
        wr, ar, br = w[rows], a[rows], b[rows]
        s = _sigmoid(ar[:, None] * x + br[:, None])
        m = np.clip(errors.verified_if_noise + k * s, 1e-12, 1 - 1e-12)
        slope = k * s * (1 - s)  # dm/dz
        r = wr * (t - m) / (m * (1 - m)) * slope  # d log-likelihood / dz
        info = wr * slope * slope / (m * (1 - m))  # Fisher information per z
        ga, gb = (r * x).sum(axis=1) - _RIDGE * ar, r.sum(axis=1) - _RIDGE * br
        haa, hab, hbb = (info * x * x).sum(axis=1) + _RIDGE, (info * x).sum(axis=1), info.sum(axis=1) + _RIDGE
        det = haa * hbb - hab * hab
        da, db = (hbb * ga - hab * gb) / det, (haa * gb - hab * ga) / det
        scale = np.minimum(1.0, 5.0 / np.maximum(np.abs(da), np.abs(db)).clip(1e-300))
        before = current[rows]
        for _ in range(30):
            trial = _platt_log_likelihood(x, t, wr, ar + scale * da, br + scale * db, errors)
            worse = trial < before - 1e-12 * np.abs(before)
            if not worse.any():
                break
            scale = np.where(worse, scale / 2, scale)
        scale = np.where(worse, 0.0, scale)  # no step that helps: stay
        a[rows], b[rows] = ar + scale * da, br + scale * db
        current[rows] = np.where(worse, before, trial)
        gain = current[rows] - before
        rows = rows[(np.abs(scale * da) + np.abs(scale * db) >= 1e-7) & (gain > 1e-9 * (1 + np.abs(before)))]
        if not rows.size:
            break
    return a, b


def _isotonic_fit(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """(knots, values) per row of weights: the weighted isotonic regression of y on x, ties in x
    pooled first (scipy's pool-adjacent-violators solver takes its points in order)."""
    from scipy.optimize import isotonic_regression

    knots, position = np.unique(x, return_inverse=True)
    fits = []
    for row in w:
        weight = np.bincount(position, row, minlength=knots.size)
        total = np.bincount(position, row * y, minlength=knots.size)
        kept = weight > 0
        values = isotonic_regression(total[kept] / weight[kept], weights=weight[kept], increasing=True).x
        fits.append((knots[kept], np.asarray(values, dtype=float)))
    return fits


def _fit(method: str, p: np.ndarray, y: np.ndarray, errors: LabelErrors, w: np.ndarray) -> list[Calibrator]:
    x = _logit(p)
    if method == "platt":
        a, b = _platt_fit(x, _platt_targets(y), w, errors)
        return [Calibrator("platt", errors, float(s), float(i)) for s, i in zip(a, b, strict=True)]
    return [Calibrator("isotonic", errors, knots=k, values=v) for k, v in _isotonic_fit(x, y, w)]


def _held_out_log_loss(method: str, p, y, errors: LabelErrors, folds: int, seed: int) -> float:
    fold = np.random.default_rng(seed).permutation(p.size) % folds
    losses = []
    for f in range(folds):
        train, test = fold != f, fold == f
        (calibrator,) = _fit(method, p[train], y[train], errors, np.ones((1, int(train.sum()))))
        m = np.clip(calibrator.verdict_probability(p[test]), LOG_LOSS_CLIP, 1 - LOG_LOSS_CLIP)
        losses.append(-(y[test] * np.log(m) + (1 - y[test]) * np.log1p(-m)))
    return float(np.concatenate(losses).mean())


def calibrate(
    p_verified: Sequence[float],
    y_verified: Sequence[int],
    *,
    method: str = "auto",
    errors: LabelErrors = NO_ERRORS,
    seed: int = 0,
) -> Calibrator:
    """Fit the calibrator on the judged videos (y: 1 verified, 0 noise); "auto" picks Platt or
    isotonic by held-out log-loss (ties: Platt, the simpler)."""
    p, y = _check_calibration(p_verified, y_verified)
    if method not in (*METHODS, "auto"):
        raise CalibrationError(f"unknown calibration method {method!r} (use auto, {', '.join(METHODS)})")
    losses: dict[str, float] = {}
    if method == "auto":
        losses = {m: _held_out_log_loss(m, p, y, errors, FOLDS, seed) for m in METHODS}
        method = min(METHODS, key=lambda m: (losses[m], METHODS.index(m)))
    (calibrator,) = _fit(method, p, y, errors, np.ones((1, p.size)))
    return Calibrator(
        calibrator.method, errors, calibrator.slope, calibrator.intercept, calibrator.knots,
        calibrator.values, losses,
    )  # fmt: skip


def expected_noise(p_unverified: Sequence[float], calibrator: Calibrator) -> float:
    """The expected noise rate of these videos: mean(1 − calibrated p)."""
    p = _check_probabilities(p_unverified, "unverified probability")
    if not p.size:
        raise CalibrationError("no unverified videos to estimate the noise of")
    return float(np.mean(1.0 - calibrator.clean_probability(p)))


# --- the bootstrap --------------------------------------------------------------------------------


@dataclass(frozen=True)
class NoiseInterval:
    """The model's noise estimate for one group of unverified videos."""

    rate: float  # expected noise rate under the calibrator fitted on every calibration video
    low: float
    high: float
    population: int  # unverified videos in the group
    expected_noisy: float
    low_noisy: int
    high_noisy: int
    confidence: float
    method: str  # the calibrator: platt or isotonic
    n_calibration: int
    noisy_calibration: int  # calibration videos judged noise
    n_boot: int


def _codes(keys: Sequence, size: int, scope: str) -> tuple[list[str], np.ndarray]:
    keys = np.asarray([("" if k is None else str(k)) for k in keys], dtype=object)
    if keys.size != size:
        raise CalibrationError(
            f"{scope}: need one key per unverified video ({keys.size} keys, {size} videos)"
        )
    names, codes = np.unique(keys, return_inverse=True)
    names = [str(n) for n in names]
    return names, codes.astype(np.int64)


def bootstrap_intervals(
    p_verified: Sequence[float],
    y_verified: Sequence[int],
    p_unverified: Sequence[float],
    *,
    groups: Mapping[str, Sequence] | None = None,
    n_boot: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
    method: str = "auto",
    errors: LabelErrors = NO_ERRORS,
    predictive: bool = True,
) -> dict[tuple[str, str], NoiseInterval]:
    """Noise estimates with bootstrap intervals for all unverified videos, key ("all", ""), and
    for each group of every partition in `groups` (scope → one key per unverified video; an
    empty or None key is in no group of that scope), keys (scope, key). `predictive`: the
    interval is for the realized noise rate of these videos (default), else for its expectation."""
    calibrator = calibrate(p_verified, y_verified, method=method, errors=errors, seed=seed)
    p, y = _check_calibration(p_verified, y_verified)
    q = _check_probabilities(p_unverified, "unverified probability")
    if not q.size:
        raise CalibrationError("no unverified videos to estimate the noise of")
    if n_boot < 100:
        raise CalibrationError(f"n_boot must be at least 100 for a {confidence:.0%} interval, not {n_boot}")
    if not 0 < confidence < 1:
        raise CalibrationError(f"confidence must be between 0 and 1, not {confidence}")
    partitions = [("all", [""], np.zeros(q.size, dtype=np.int64))]
    for scope, keys in (groups or {}).items():
        partitions.append((scope, *_codes(keys, q.size, scope)))
    point = 1.0 - calibrator.clean_probability(q)
    draws = [np.zeros((n_boot, len(names))) for _, names, _ in partitions]
    rng = np.random.default_rng(seed)
    batch = max(1, min(n_boot, 256, _CELLS // p.size))  # replicates fitted at once
    chunk = max(1, _CELLS // batch)
    x = _logit(q)
    for start in range(0, n_boot, batch):
        rows = min(batch, n_boot - start)
        weights = rng.multinomial(p.size, np.full(p.size, 1.0 / p.size), size=rows).astype(float)
        fits = _fit(calibrator.method, p, y, errors, weights)
        for first in range(0, q.size, chunk):
            part = slice(first, first + chunk)
            if calibrator.method == "platt":
                slopes = np.array([f.slope for f in fits])[:, None]
                intercepts = np.array([f.intercept for f in fits])[:, None]
                noise = 1.0 - _sigmoid(slopes * x[part] + intercepts)
            else:
                noise = 1.0 - np.stack([f.clean_probability(q[part]) for f in fits])
            if predictive:
                noise = (rng.random(noise.shape) < noise).astype(float)
            for (_, names, codes), total in zip(partitions, draws, strict=True):
                flat = (np.arange(rows)[:, None] * len(names) + codes[part]).ravel()
                total[start : start + rows] += np.bincount(
                    flat, noise.ravel(), minlength=rows * len(names)
                ).reshape(rows, len(names))
    alpha = 1.0 - confidence
    out = {}
    for (scope, names, codes), total in zip(partitions, draws, strict=True):
        sizes = np.bincount(codes, minlength=len(names))
        expected = np.bincount(codes, point, minlength=len(names))
        for g, name in enumerate(names):
            if scope != "all" and name == "":
                continue
            low_count, high_count = np.quantile(total[:, g], (alpha / 2, 1 - alpha / 2))
            size = int(sizes[g])
            rate = float(expected[g] / size)
            low_noisy = int(np.floor(low_count + 1e-9))
            high_noisy = int(np.ceil(high_count - 1e-9))
            out[(scope, name)] = NoiseInterval(
                rate=rate, low=min(low_noisy / size, rate), high=max(high_noisy / size, rate),
                population=size, expected_noisy=float(expected[g]), low_noisy=low_noisy,
                high_noisy=high_noisy, confidence=confidence, method=calibrator.method,
                n_calibration=int(p.size), noisy_calibration=int((y == 0).sum()), n_boot=n_boot,
            )  # fmt: skip
    return out


def bootstrap_interval(
    p_verified: Sequence[float],
    y_verified: Sequence[int],
    p_unverified: Sequence[float],
    *,
    n_boot: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
    method: str = "auto",
    errors: LabelErrors = NO_ERRORS,
    predictive: bool = True,
) -> tuple[float, float, float]:
    """(rate, low, high): the unverified videos' noise rate and its bootstrap interval."""
    whole = bootstrap_intervals(
        p_verified, y_verified, p_unverified, n_boot=n_boot, confidence=confidence, seed=seed,
        method=method, errors=errors, predictive=predictive,
    )[("all", "")]  # fmt: skip
    return whole.rate, whole.low, whole.high

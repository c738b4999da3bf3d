"""Where the verification answers are spent, simulated: the numbers behind issue 16's verification orders.

Given each video's true noise flag and a model's weak-topic probability p, each trial draws a
crowd (ml.crowdsim: a pool of workers of accuracy U(0.6, 0.95), two distinct workers per video,
USV's rule on their answers via ml.verdicts) and verifies videos in an order until the budget (a
share of the videos) is spent:

- ``random``: USV's protocol, the only order whose judged videos are a random sample;
- ``likely_noise``: lowest weak-topic probability first;
- ``uncertain``: probability nearest 0.5 first (where the model is least sure).

(MiCRObE's ``hard_negatives`` order asks about topics a video was *not* collected for: it finds
videos missing from a topic, not the weak label's noise, so it has no place in this count.)

Per order: the noisy videos found at the budget (truly noisy and judged noise by the rule), the
videos flagged (judged noise, right or wrong) and the answers needed to find 80 % of the noise.
USV's rule with two answers catches a noisy video only when both workers say No (E[a]² ≈ 60 %
of noisy videos with these workers), so "the noise" there is what the rule catches when every
video is verified; the answers needed for the verified set to merely contain 80 % of the noisy
videos are given beside it.

Coverage: the model's estimate of the unverified videos' noise (ml.calibration) is judged in
repeated trials, each verifying a fresh random sample, calibrating on its judged videos and
bootstrapping an interval; a trial is covered when the interval contains the true noise rate of
the videos left unverified. Two estimates: corrected for the rule's errors (computed from the
trial's worker accuracies, which in the product come from gold answers), against the true rate;
and uncorrected (what the product stores), against the rate the rule would report on the
unverified videos had they been verified (in expectation over the crowd's answers: the share of
noisy videos it catches plus the share of clean ones it wrongly calls noise). A trial whose
calibration set is refused (too few videos, no noise) counts as not covered.
"""

from dataclasses import asdict, dataclass, replace

import numpy as np

from ml.calibration import NO_ERRORS, CalibrationError, bootstrap_interval, calibrate, rule_errors
from ml.crowdsim import NO, YES, simulate_verification
from ml.verdicts import NOISE, TOPIC_VERDICTS, VERIFIED, verdicts_decide

ORDERS = ("random", "likely_noise", "uncertain")
ANSWERS_PER_VIDEO = 2
FIND_SHARE = 0.8
_NOISE_CODE, _VERIFIED_CODE = TOPIC_VERDICTS.index(NOISE), TOPIC_VERDICTS.index(VERIFIED)


class SimulationError(ValueError):
    pass


def _seed(purpose: str, seed: int, trial: int) -> int:
    """An integer seed per purpose and trial: streams such as default_rng([0, 0]) and
    default_rng(0) are the same, so a bare (seed, trial) could replay the caller's own draws
    (e.g. the ones that made the noise flags) and correlate an order with the noise."""
    tag = int.from_bytes(purpose.encode(), "little")
    return int(np.random.SeedSequence([tag, seed, trial]).generate_state(1, np.uint64)[0] >> 1)


def _check(noise, p) -> tuple[np.ndarray, np.ndarray]:
    noise = np.asarray(noise)
    p = np.asarray(p, dtype=float)
    if noise.ndim != 1 or noise.shape != p.shape:
        raise SimulationError(
            f"need one probability per video ({noise.size} noise flags, {p.size} probabilities)"
        )
    if not np.isin(noise, (0, 1)).all():
        raise SimulationError("noise flags must be booleans (or 0/1)")
    bad = np.flatnonzero(~(np.isfinite(p) & (p >= 0) & (p <= 1)))
    if bad.size:
        raise SimulationError(
            f"probability #{bad[0]} is {p[bad[0]]}: probabilities must be numbers in [0, 1]"
        )
    if noise.size < 2 or not noise.any():
        raise SimulationError("need at least two videos and at least one noisy one")
    return noise.astype(bool), p


def _budget(budget: float, videos: int) -> int:
    if not 0 < budget <= 1:
        raise SimulationError(f"budget is a share of the videos in (0, 1], not {budget}")
    return max(1, round(budget * videos))


def verification_order(p: np.ndarray, order: str, rng: np.random.Generator) -> np.ndarray:
    """Video indices in the order they are verified (ties broken at random)."""
    tie = rng.random(p.size)
    if order == "random":
        return np.argsort(tie)
    if order == "likely_noise":
        return np.lexsort((tie, p))
    if order == "uncertain":
        return np.lexsort((tie, np.abs(p - 0.5)))
    raise SimulationError(f"unknown verification order {order!r} (use one of {', '.join(ORDERS)})")


@dataclass(frozen=True)
class Crowd:
    """Every video's verdict had it been verified (codes into TOPIC_VERDICTS), and the workers."""

    verdict: np.ndarray
    accuracy: np.ndarray


def crowd_verdicts(
    noise: np.ndarray,
    *,
    workers: int = 200,
    accuracy_range: tuple[float, float] = (0.60, 0.95),
    seed: int = 0,
) -> Crowd:
    """Two answers per video from distinct simulated workers, and USV's rule on them."""
    # crowdsim draws its own truth; with a noise rate of 0 every video's truth is Yes, so a Yes
    # answer there means the worker was right, which is applied to our truth here.
    sim = simulate_verification(
        items=noise.size, workers=workers, answers_per_item=ANSWERS_PER_VIDEO, noise_rate=0.0,
        accuracy_range=accuracy_range, seed=seed,
    )  # fmt: skip
    right = sim.answers.label == YES
    truth = np.where(noise[sim.answers.item], NO, YES)
    answers = replace(sim.answers, label=np.where(right, truth, 1 - truth))
    verdicts = verdicts_decide(answers, "usv", required=ANSWERS_PER_VIDEO)
    return Crowd(verdict=verdicts.code, accuracy=sim.accuracy)


@dataclass(frozen=True)
class OrderResult:
    order: str
    verified: int  # videos verified at the budget
    answers: int  # answers spent at the budget
    noisy_found: float  # mean over trials: truly noisy videos judged noise
    flagged: float  # mean: videos judged noise (found + clean ones wrongly judged noise)
    noisy_verified: float  # mean: truly noisy videos among the verified
    answers_to_find: float  # mean: answers until the rule has caught FIND_SHARE of what it can catch
    answers_to_verify: float  # mean: answers until FIND_SHARE of the noisy videos were verified


def _first_reaching(hits: np.ndarray, needed: int) -> int:
    """Videos verified (in order) until `hits` adds up to `needed`."""
    return int(np.searchsorted(np.cumsum(hits), needed) + 1)


def orders_compare(
    noise,
    p,
    *,
    budget: float = 0.2,
    trials: int = 200,
    workers: int = 200,
    accuracy_range: tuple[float, float] = (0.60, 0.95),
    orders: tuple[str, ...] = ORDERS,
    seed: int = 0,
) -> dict[str, OrderResult]:
    """Each order at the budget, averaged over `trials` crowds (and random orders)."""
    noise, p = _check(noise, p)
    k = _budget(budget, noise.size)
    for order in orders:
        if order not in ORDERS:
            raise SimulationError(f"unknown verification order {order!r} (use one of {', '.join(ORDERS)})")
    if trials < 1:
        raise SimulationError(f"trials must be at least 1, not {trials}")
    tallies = {order: np.zeros((trials, 5)) for order in orders}
    for trial in range(trials):
        rng = np.random.default_rng(_seed("orders", seed, trial))
        crowd = crowd_verdicts(
            noise, workers=workers, accuracy_range=accuracy_range, seed=_seed("crowd", seed, trial)
        )
        judged_noise = crowd.verdict == _NOISE_CODE
        caught = judged_noise & noise
        catchable = int(caught.sum())
        for order in orders:
            ranked = verification_order(p, order, rng)
            chosen = ranked[:k]
            tallies[order][trial] = (
                caught[chosen].sum(),
                judged_noise[chosen].sum(),
                noise[chosen].sum(),
                ANSWERS_PER_VIDEO * _first_reaching(caught[ranked], int(np.ceil(FIND_SHARE * catchable))),
                ANSWERS_PER_VIDEO * _first_reaching(noise[ranked], int(np.ceil(FIND_SHARE * noise.sum()))),
            )
    return {
        order: OrderResult(order, k, ANSWERS_PER_VIDEO * k, *(float(v) for v in t.mean(axis=0)))
        for order, t in tallies.items()
    }


@dataclass(frozen=True)
class Coverage:
    trials: int
    budget: float
    confidence: float
    covered: float  # share of trials whose corrected interval holds the true unverified noise rate
    covered_rule_rate: float  # uncorrected interval vs the rule's expected rate on the unverified videos
    refused: int  # trials whose calibration set was refused (counted as not covered)
    mean_rate: float  # corrected estimate, mean over trials
    mean_true_rate: float
    mean_width: float  # corrected interval
    methods: dict  # calibrator picked → trials


def coverage(
    noise,
    p,
    *,
    budget: float = 0.2,
    trials: int = 200,
    n_boot: int = 1000,
    confidence: float = 0.95,
    workers: int = 200,
    accuracy_range: tuple[float, float] = (0.60, 0.95),
    seed: int = 0,
) -> Coverage:
    """How often the model-based estimate's interval holds the unverified videos' noise rate."""
    noise, p = _check(noise, p)
    k = _budget(budget, noise.size)
    if k >= noise.size:
        raise SimulationError("the budget verifies every video: nothing is left to estimate")
    if trials < 1:
        raise SimulationError(f"trials must be at least 1, not {trials}")
    hits, hits_rule, rates, truths, widths, refused, methods = [], [], [], [], [], 0, {}
    for trial in range(trials):
        rng = np.random.default_rng(_seed("sample", seed, trial))
        crowd = crowd_verdicts(
            noise, workers=workers, accuracy_range=accuracy_range, seed=_seed("crowd", seed, trial)
        )
        sample = np.zeros(noise.size, dtype=bool)
        sample[rng.permutation(noise.size)[:k]] = True
        judged = (crowd.verdict == _NOISE_CODE) | (crowd.verdict == _VERIFIED_CODE)
        calibration = sample & judged
        y = (crowd.verdict[calibration] == _VERIFIED_CODE).astype(int)
        left = ~sample
        true_rate = float(noise[left].mean())
        truths.append(true_rate)
        try:
            errors = rule_errors(crowd.accuracy)
            # What the rule would call noise among the unverified videos, in expectation over
            # the crowd's answers: the uncorrected estimate's target.
            said = np.where(noise[left], 1 - errors.verified_if_noise, errors.noise_if_clean)
            rule_rate = float(said.mean())
            common = {"n_boot": n_boot, "confidence": confidence, "seed": _seed("bootstrap", seed, trial)}
            method = calibrate(p[calibration], y, errors=errors).method
            rate, low, high = bootstrap_interval(
                p[calibration], y, p[left], errors=errors, method=method, **common
            )
            _, low_j, high_j = bootstrap_interval(p[calibration], y, p[left], errors=NO_ERRORS, **common)
        except CalibrationError:
            refused += 1
            hits.append(False)
            hits_rule.append(False)
            continue
        methods[method] = methods.get(method, 0) + 1
        hits.append(low <= true_rate <= high)
        hits_rule.append(bool(low_j <= rule_rate <= high_j))
        rates.append(rate)
        widths.append(high - low)
    return Coverage(
        trials=trials, budget=budget, confidence=confidence, covered=float(np.mean(hits)),
        covered_rule_rate=float(np.mean(hits_rule)), refused=refused,
        mean_rate=float(np.mean(rates)) if rates else float("nan"), mean_true_rate=float(np.mean(truths)),
        mean_width=float(np.mean(widths)) if widths else float("nan"), methods=methods,
    )  # fmt: skip


@dataclass(frozen=True)
class ActiveReport:
    videos: int
    noisy: int
    budget: float
    orders: dict[str, OrderResult]
    likely_noise_over_random: float  # noisy videos found at the budget
    coverage: Coverage

    def as_dict(self) -> dict:
        return asdict(self)


def active_report(
    noise,
    p,
    *,
    budget: float = 0.2,
    trials: int = 200,
    coverage_budget: float | None = None,
    coverage_trials: int = 200,
    n_boot: int = 1000,
    seed: int = 0,
) -> ActiveReport:
    """The orders compared at `budget`, and the model estimate's coverage at `coverage_budget`
    (default: the same budget) over `coverage_trials` random verification samples."""
    noise, p = _check(noise, p)
    compared = orders_compare(noise, p, budget=budget, trials=trials, seed=seed)
    covered = coverage(
        noise, p, budget=coverage_budget or budget, trials=coverage_trials, n_boot=n_boot, seed=seed
    )
    random_found = compared["random"].noisy_found
    ratio = compared["likely_noise"].noisy_found / random_found if random_found else float("inf")
    return ActiveReport(noise.size, int(noise.sum()), budget, compared, ratio, covered)

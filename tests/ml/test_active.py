"""The verification-order simulation: orders, simulated crowds, noise found, answers needed and the
model estimate's coverage, on synthetic probabilities whose relation to the noise is known."""

import numpy as np
import pytest

from ml.active import (
    ORDERS,
    SimulationError,
    active_report,
    coverage,
    crowd_verdicts,
    orders_compare,
    verification_order,
)
from ml.verdicts import NOISE, TOPIC_VERDICTS, VERIFIED


def dataset(n: int = 1_000, seed: int = 0, informative: bool = True):
    """21.7 % noise; an informative model gives noisy videos lower probabilities (logit spread
    1.2 around -1 for noise, +1.5 for clean), an uninformative one draws them apart from it."""
    rng = np.random.default_rng(seed)
    noise = rng.random(n) < 0.217
    centre = np.where(noise, -1.0, 1.5) if informative else 0.8
    p = 1 / (1 + np.exp(-rng.normal(centre, 1.2, n)))
    return noise, p


def test_orders_rank_by_probability_and_random_is_a_permutation():
    p = np.array([0.9, 0.05, 0.55, 0.35, 0.7])
    rng = np.random.default_rng(0)
    assert verification_order(p, "likely_noise", rng).tolist() == [1, 3, 2, 4, 0]
    assert verification_order(p, "uncertain", rng).tolist() == [2, 3, 4, 0, 1]
    assert sorted(verification_order(p, "random", rng).tolist()) == [0, 1, 2, 3, 4]
    with pytest.raises(SimulationError, match="unknown verification order 'newest'"):
        verification_order(p, "newest", rng)


def test_perfect_workers_judge_every_video_right_and_usual_ones_catch_about_sixty_percent():
    noise, _ = dataset(4_000)
    perfect = crowd_verdicts(noise, accuracy_range=(1.0, 1.0), seed=1)
    labels = np.array(TOPIC_VERDICTS)[perfect.verdict]
    assert (labels[noise] == NOISE).all() and (labels[~noise] == VERIFIED).all()
    usual = crowd_verdicts(noise, seed=2)
    caught = np.mean(np.array(TOPIC_VERDICTS)[usual.verdict][noise] == NOISE)
    # Two distinct workers both right: E[a]² with a ~ U(0.6, 0.95), 0.775² ≈ 0.60.
    assert caught == pytest.approx(0.60, abs=0.04)
    assert usual.accuracy.min() >= 0.6 and usual.accuracy.max() <= 0.95


def test_likely_noise_finds_at_least_twice_the_noise_of_random_order_with_an_informative_model():
    noise, p = dataset()
    got = orders_compare(noise, p, budget=0.2, trials=30)
    assert set(got) == set(ORDERS)
    random, likely = got["random"], got["likely_noise"]
    assert random.verified == likely.verified == 200 and random.answers == 400
    # Random order verifies about 20 % of the noisy videos and catches ~60 % of those.
    assert random.noisy_verified == pytest.approx(0.2 * noise.sum(), rel=0.15)
    assert random.noisy_found == pytest.approx(0.6 * random.noisy_verified, rel=0.15)
    assert likely.noisy_found >= 2 * random.noisy_found
    assert likely.answers_to_find < random.answers_to_find / 2
    assert random.flagged >= random.noisy_found


def test_an_uninformative_model_finds_no_more_noise_than_random_order():
    noise, p = dataset(informative=False)
    got = orders_compare(noise, p, budget=0.2, trials=30)
    assert got["likely_noise"].noisy_found == pytest.approx(got["random"].noisy_found, rel=0.25)


def test_answers_needed_with_a_perfect_model_and_perfect_workers():
    noise = np.zeros(100, bool)
    noise[:20] = True
    p = np.where(noise, 0.05, 0.95)
    perfect = {"budget": 0.2, "trials": 3, "accuracy_range": (1.0, 1.0)}
    got = orders_compare(noise, p, **perfect)
    # Two answers a video; 80 % of the 20 noisy videos, all first in line.
    assert got["likely_noise"].answers_to_find == got["likely_noise"].answers_to_verify == 2 * 16
    assert got["likely_noise"].noisy_found == got["likely_noise"].flagged == 20
    assert got["uncertain"].noisy_found == 0  # 0.05 and 0.95 are equally sure: ties, but 80 clean
    assert got["random"].answers_to_find > 2 * 16


def test_the_model_estimate_covers_the_unverified_noise_rate_in_repeated_trials():
    noise, p = dataset(800, seed=3)
    got = coverage(noise, p, budget=0.25, trials=60, n_boot=300)
    assert got.refused == 0 and got.trials == 60
    assert got.covered >= 0.9 and got.covered_rule_rate >= 0.9, got
    assert got.mean_rate == pytest.approx(got.mean_true_rate, abs=0.03)
    assert sum(got.methods.values()) == 60


def test_the_report_gives_the_ratio_and_a_too_small_calibration_counts_as_not_covered():
    noise, p = dataset(300, seed=4)
    report = active_report(
        noise, p, budget=0.2, trials=5, coverage_budget=0.04, coverage_trials=5, n_boot=200
    )
    assert report.likely_noise_over_random == pytest.approx(
        report.orders["likely_noise"].noisy_found / report.orders["random"].noisy_found
    )
    # 4 % of 300 = 12 verified videos: fewer than the 20 a calibration needs.
    assert report.coverage.refused == 5 and report.coverage.covered == 0.0
    assert report.as_dict()["orders"]["random"]["verified"] == 60


@pytest.mark.parametrize(
    ("noise", "p", "budget", "message"),
    [
        ([True, False], [0.5], 0.2, "2 noise flags, 1 probabilities"),
        ([False, False], [0.5, 0.5], 0.2, "at least one noisy"),
        ([True, False], [0.5, np.nan], 0.2, "probability #1 is nan"),
        ([True, False], [0.5, 0.5], 0.0, "budget is a share of the videos"),
        ([True, 2], [0.5, 0.5], 0.5, "noise flags must be booleans"),
    ],
)
def test_bad_simulation_input_is_refused_with_the_reason(noise, p, budget, message):
    with pytest.raises(SimulationError, match=message):
        orders_compare(noise, p, budget=budget, trials=1)

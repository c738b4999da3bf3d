"""Calibration of weak-topic probabilities on judged videos, and the bootstrap noise estimate
for the unverified ones: on synthetic scores whose calibration is known."""

import numpy as np
import pytest

from ml.calibration import (
    MIN_CALIBRATION,
    CalibrationError,
    LabelErrors,
    bootstrap_interval,
    bootstrap_intervals,
    calibrate,
    expected_noise,
    rule_errors,
)


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def logit(p):
    return np.log(p / (1 - p))


def scores(n: int, seed: int, truth=lambda p: sigmoid(1.5 * logit(p) + 0.3)):
    """Model probabilities p and clean flags drawn from a known P(clean | p): the model is
    under-confident (slope 1.5) and a little pessimistic (intercept 0.3)."""
    rng = np.random.default_rng(seed)
    p = np.clip(rng.beta(2.0, 1.0, n), 0.01, 0.99)
    clean = rng.random(n) < truth(p)
    return p, clean.astype(int), truth(p)


def test_platt_scaling_recovers_a_known_logistic_calibration():
    p, y, truth = scores(20_000, seed=1)
    fitted = calibrate(p, y, method="platt")
    assert fitted.method == "platt"
    assert fitted.slope == pytest.approx(1.5, abs=0.08) and fitted.intercept == pytest.approx(0.3, abs=0.08)
    q, _, q_truth = scores(5_000, seed=2)
    assert expected_noise(q, fitted) == pytest.approx(np.mean(1 - q_truth), abs=0.01)


def test_auto_picks_isotonic_for_a_step_and_platt_for_a_logistic_map_by_held_out_log_loss():
    def step(p):
        return np.where(p > 0.6, 0.95, 0.3)

    p, y, _ = scores(4_000, seed=3, truth=step)
    chosen = calibrate(p, y)
    assert chosen.method == "isotonic" and chosen.log_loss["isotonic"] < chosen.log_loss["platt"]
    # Isotonic follows the step: well below it ~0.3 clean, well above it ~0.95.
    assert chosen.clean_probability([0.3, 0.9]) == pytest.approx([0.3, 0.95], abs=0.05)

    p, y, _ = scores(300, seed=4)
    chosen = calibrate(p, y)
    assert chosen.method == "platt" and chosen.log_loss["platt"] < chosen.log_loss["isotonic"]


def test_known_label_errors_are_undone_and_ignoring_them_estimates_the_rules_rate():
    p, clean, truth = scores(20_000, seed=5)
    errors = LabelErrors(noise_if_clean=0.1, verified_if_noise=0.15)
    rng = np.random.default_rng(6)
    flip = np.where(clean == 1, rng.random(p.size) < 0.1, rng.random(p.size) < 0.15)
    said_verified = np.where(flip, 1 - clean, clean)
    q, q_clean, q_truth = scores(5_000, seed=7)
    corrected = calibrate(p, said_verified, method="platt", errors=errors)
    assert expected_noise(q, corrected) == pytest.approx(np.mean(1 - q_truth), abs=0.01)
    plain = calibrate(p, said_verified, method="platt")
    # Without the errors the estimate is of the rule's verdicts: noise said of clean videos at
    # 10 %, of noisy ones at 85 %.
    said_noise = np.mean(q_truth * 0.1 + (1 - q_truth) * 0.85)
    assert expected_noise(q, plain) == pytest.approx(said_noise, abs=0.01)
    assert abs(expected_noise(q, plain) - np.mean(1 - q_truth)) > 0.02
    isotonic = calibrate(p, said_verified, method="isotonic", errors=errors)
    assert expected_noise(q, isotonic) == pytest.approx(np.mean(1 - q_truth), abs=0.015)


def test_rule_errors_of_two_workers_who_must_agree():
    errors = rule_errors([0.8, 0.8, 0.8])
    # Both right 0.64, both wrong 0.04: among agreeing pairs, wrong 0.04 / 0.68.
    assert errors.noise_if_clean == pytest.approx(0.04 / 0.68)
    assert errors.verified_if_noise == pytest.approx(0.04 / 0.68)
    with pytest.raises(CalibrationError, match="at least two workers"):
        rule_errors([0.9])


def test_the_bootstrap_interval_covers_the_unverified_videos_noise_rate_in_repeated_trials():
    covered, widths = [], []
    for trial in range(100):
        p, clean, _ = scores(600, seed=100 + trial)
        verified = np.random.default_rng(trial).random(p.size) < 0.2
        rate, low, high = bootstrap_interval(
            p[verified], clean[verified], p[~verified], n_boot=400, seed=trial
        )
        assert low <= rate <= high
        covered.append(low <= 1 - clean[~verified].mean() <= high)
        widths.append(high - low)
    assert np.mean(covered) >= 0.9, np.mean(covered)
    assert np.mean(widths) < 0.15


def test_groups_get_their_own_intervals_and_the_predictive_draw_widens_a_small_one():
    p, clean, _ = scores(400, seed=8)
    verified = np.arange(p.size) < 100
    q = p[~verified]
    topics = np.where(np.arange(q.size) % 10 == 0, "small", "large").astype(object)
    topics[:3] = None  # in no topic
    got = bootstrap_intervals(p[verified], clean[verified], q, groups={"topic": topics}, n_boot=500)
    assert set(got) == {("all", ""), ("topic", "small"), ("topic", "large")}
    whole, small, large = got[("all", "")], got[("topic", "small")], got[("topic", "large")]
    assert whole.population == q.size and small.population + large.population == q.size - 3
    assert whole.n_calibration == 100 and whole.noisy_calibration == int((clean[verified] == 0).sum())
    assert small.high - small.low > whole.high - whole.low
    assert small.low_noisy <= small.expected_noisy <= small.high_noisy
    expected = bootstrap_intervals(
        p[verified], clean[verified], q, groups={"topic": topics}, n_boot=500, predictive=False
    )[("topic", "small")]
    assert expected.rate == pytest.approx(small.rate)
    assert expected.high - expected.low < small.high - small.low


@pytest.mark.parametrize(
    ("p", "y", "message"),
    [
        (
            np.full(MIN_CALIBRATION - 1, 0.5),
            [0, 1] * 9 + [1],
            "too few calibration videos: 19 verified or noise",
        ),
        (np.full(30, 0.5), np.ones(30, int), "no noise among the 30 calibration videos"),
        (np.full(30, 0.5), np.zeros(30, int), "no verified \\(clean\\) video among the 30"),
        (np.full(30, 0.5), [0, 1, 2] * 10, "calibration label #2 is 2"),
        (np.r_[np.full(29, 0.5), np.nan], [0, 1] * 15, "calibration probability #29 is nan"),
        (np.r_[np.full(29, 0.5), 1.5], [0, 1] * 15, "calibration probability #29 is 1.5"),
        (np.full(30, 0.5), [0, 1] * 14, "30 probabilities, 28 labels"),
    ],
)
def test_a_bad_calibration_set_is_refused_with_the_reason(p, y, message):
    with pytest.raises(CalibrationError, match=message):
        bootstrap_interval(p, y, [0.5, 0.6])


def test_bad_unverified_videos_method_and_errors_are_refused():
    p, y, _ = scores(50, seed=9)
    with pytest.raises(CalibrationError, match="no unverified videos"):
        bootstrap_interval(p, y, [])
    with pytest.raises(CalibrationError, match="unverified probability #1 is -0.2"):
        bootstrap_interval(p, y, [0.5, -0.2])
    with pytest.raises(CalibrationError, match="unknown calibration method 'beta'"):
        calibrate(p, y, method="beta")
    with pytest.raises(CalibrationError, match="uninformative"):
        LabelErrors(noise_if_clean=0.5, verified_if_noise=0.5)
    with pytest.raises(CalibrationError, match="topic: need one key per unverified video"):
        bootstrap_intervals(p, y, [0.5, 0.6], groups={"topic": ["a"]})

"""Intervals that contain the truth as often as they claim: repeated simulated trials, fixed seeds.

With a fixed seed every run draws the same trials, so a coverage bound either holds or does
not — no flakiness; the bounds sit about two standard errors (of the trial count) around 95 %.
"""

import numpy as np
import pytest
from scipy.stats import binomtest

from ml.crowdsim import NO, simulate_verification
from ml.intervals import (
    IntervalError,
    clopper_pearson,
    corrected_estimate,
    extrapolate,
    interval,
    noise_estimate,
    noise_estimates_by,
    usv_rule_characteristics,
    wilson,
)
from ml.verdicts import verdicts_decide

USV_RATE = 0.217  # 6,788 of 31,260 verified videos judged noise


def test_intervals_match_scipys_independent_implementation_on_usvs_numbers():
    reference = binomtest(6788, 31260)
    assert wilson(6788, 31260) == pytest.approx(tuple(reference.proportion_ci(method="wilson")), abs=1e-9)
    assert clopper_pearson(6788, 31260) == pytest.approx(
        tuple(reference.proportion_ci(method="exact")), abs=1e-9
    )
    estimate = noise_estimate(6788, 31260, scope="dataset")
    assert estimate.rate == pytest.approx(0.21715, abs=1e-5)
    assert estimate.low < estimate.rate < estimate.high and estimate.high - estimate.low < 0.01


def test_intervals_stay_inside_zero_and_one_at_the_edges():
    assert wilson(0, 10)[0] == 0.0 and wilson(10, 10)[1] == 1.0
    assert clopper_pearson(0, 10) == (0.0, pytest.approx(0.3085, abs=1e-4))
    assert clopper_pearson(10, 10) == (pytest.approx(0.6915, abs=1e-4), 1.0)


@pytest.mark.parametrize("kind", ["wilson", "clopper-pearson"])
@pytest.mark.parametrize("n", [60, 600])
def test_interval_contains_the_true_rate_in_about_95_percent_of_samples(kind, n):
    rng = np.random.default_rng(n)
    noisy = rng.binomial(n, USV_RATE, size=2_000)
    hits = [low <= USV_RATE <= high for low, high in (interval(int(k), n, kind) for k in noisy)]
    coverage = np.mean(hits)
    if kind == "clopper-pearson":
        assert 0.95 <= coverage <= 0.985  # exact: conservative by construction
    else:
        assert 0.93 <= coverage <= 0.97


def test_corrected_estimate_covers_the_true_noise_rate_despite_annotator_errors():
    """Two annotators of 60–95 % accuracy verify 3,000 videos per trial; 400 trials."""
    covered, naive_covered = [], []
    for trial in range(400):
        sim = simulate_verification(items=3_000, answers_per_item=2, noise_rate=USV_RATE, seed=1000 + trial)
        judged = int((verdicts_decide(sim.answers, "usv").reference == NO).sum())
        # Workers of accuracy a say No on a noisy video with probability a, on a clean one 1 − a.
        sensitivity, fpr = usv_rule_characteristics(sim.accuracy, 1 - sim.accuracy)
        estimate = corrected_estimate(judged, 3_000, sensitivity=sensitivity, false_positive_rate=fpr)
        covered.append(estimate.low <= USV_RATE <= estimate.high)
        naive = noise_estimate(judged, 3_000)
        naive_covered.append(naive.low <= USV_RATE <= naive.high)
    assert 0.925 <= np.mean(covered) <= 0.975
    # The raw share of "two No" misses: careless pairs let noise through more than they invent it.
    assert np.mean(naive_covered) < 0.05


@pytest.mark.parametrize("population", [400, 60_000])
def test_extrapolation_to_the_unverified_set_covers_its_actual_noise(population):
    """USV's step: a random verified sample's rate stands for the unverified remainder."""
    rng = np.random.default_rng(population)
    hits = []
    for _ in range(1_000):
        sample_noisy = rng.binomial(1_500, USV_RATE)
        remainder_noisy = rng.binomial(population, USV_RATE)
        prediction = extrapolate(noise_estimate(int(sample_noisy), 1_500), population)
        hits.append(prediction.low_noisy <= remainder_noisy <= prediction.high_noisy)
    assert 0.93 <= np.mean(hits) <= 0.975


def test_corrected_extrapolation_covers_the_unverified_sets_noise():
    hits = []
    for trial in range(300):
        sim = simulate_verification(items=3_000, answers_per_item=2, noise_rate=USV_RATE, seed=5000 + trial)
        judged = int((verdicts_decide(sim.answers, "usv").reference == NO).sum())
        sensitivity, fpr = usv_rule_characteristics(sim.accuracy, 1 - sim.accuracy)
        estimate = corrected_estimate(judged, 3_000, sensitivity=sensitivity, false_positive_rate=fpr)
        actual = np.random.default_rng(trial).binomial(50_000, USV_RATE)
        prediction = extrapolate(estimate, 50_000)
        hits.append(prediction.low_noisy <= actual <= prediction.high_noisy)
    assert 0.92 <= np.mean(hits) <= 0.98


def test_estimate_records_name_their_method_so_a_model_estimate_sits_beside_the_human_one():
    human = noise_estimate(680, 3_126, scope="topic:dance")
    model = noise_estimate(702, 3_126, scope="topic:dance", method="model:mmf-net", kind="clopper-pearson")
    rows = [human.as_dict(), model.as_dict()]
    assert {row["method"] for row in rows} == {"human:usv-rule", "model:mmf-net"}
    assert all(set(row) == set(rows[0]) for row in rows)
    assert rows[1]["interval"] == "clopper-pearson"


def test_estimates_per_topic_count_each_topics_verified_videos():
    topics = np.array(["dance", "cats", "dance", "dance", "cats", "food"])
    noisy = np.array([True, False, False, True, False, False])
    estimates = noise_estimates_by(noisy, topics, prefix="topic")
    assert [(e.scope, e.noisy, e.n) for e in estimates] == [
        ("topic:dance", 2, 3), ("topic:cats", 0, 2), ("topic:food", 0, 1),
    ]  # fmt: skip
    assert estimates[0].low < 2 / 3 < estimates[0].high and estimates[1].low == 0.0
    with pytest.raises(IntervalError, match="one noise flag per grouped item"):
        noise_estimates_by(noisy[:2], topics, prefix="topic")


def test_impossible_counts_are_refused():
    with pytest.raises(IntervalError, match="n = 0"):
        wilson(0, 0)
    with pytest.raises(IntervalError, match="outside"):
        clopper_pearson(11, 10)
    with pytest.raises(IntervalError, match="unknown interval"):
        interval(1, 10, "agresti")
    with pytest.raises(IntervalError, match="more often on noisy"):
        corrected_estimate(5, 10, sensitivity=0.3, false_positive_rate=0.4)
    with pytest.raises(IntervalError, match="negative"):
        extrapolate(noise_estimate(5, 10), -1)

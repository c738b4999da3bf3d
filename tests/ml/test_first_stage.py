"""MiCRObE's calibration keeps its constraints, and max-calibration picks planted topics cheaply."""

import time

import numpy as np
import pytest

from ml.first_stage import ZERO_SHOT, FirstStage, calibrate, calibration_apply


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def planted(n: int, *, seed: int, n_classes: int = 12, d: int = 48, signal: float = 0.6):
    """Visual features carry the topic (prototype + noise, on a shared non-negative offset like
    pooled CNN activations); audio features are pure noise."""
    rng = np.random.default_rng(seed)
    prototypes = np.random.default_rng(1000).normal(size=(n_classes, d))
    y = rng.integers(0, n_classes, n)
    visual = (signal * prototypes[y] + rng.normal(size=(n, d)) + 3.0).astype(np.float32)
    audio = rng.normal(size=(n, 10)).astype(np.float32)
    present = {"visual": np.ones(n, bool), "audio": np.ones(n, bool)}
    return {"visual": visual, "audio": audio}, present, y


@pytest.fixture(scope="module")
def fitted():
    branches, present, y = planted(2000, seed=0)
    return FirstStage.fit(branches, present, y, None, 12)


def test_calibration_recovers_a_planted_modified_platt_curve():
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, 20_000)
    truth = rng.random(x.size) < 0.8 * (sigmoid(20 * x - 12) - sigmoid(-12))
    fit = calibrate(x, truth)
    assert (fit.alpha, fit.beta, fit.gamma) == pytest.approx((0.8, 20, -12), rel=0.1)


@pytest.mark.parametrize("shape", ["rising", "step", "falling", "flat"])
def test_calibration_is_monotone_nonnegative_and_at_most_one(shape):
    rng = np.random.default_rng(1)
    x = rng.uniform(0, 1, 5000)
    chance = {
        "rising": 0.1 + 0.6 * x,
        "step": (x > 0.5).astype(float),  # perfectly separable: p must still stop at 1
        "falling": 0.5 * (1 - x),  # negatively correlated: no evidence *for* the topic
        "flat": np.full(x.size, 0.2),
    }[shape]
    fit = calibrate(x, rng.random(x.size) < chance)
    assert fit.alpha >= 0 and fit.beta >= 0
    grid = np.linspace(0, 1.5, 301)
    p = fit(grid)
    assert np.all(np.diff(p) >= -1e-12)
    assert p[0] == 0.0 and fit(np.array([1e-4]))[0] < 0.02
    assert np.all((p >= 0) & (p <= 1))
    raw = fit.alpha * (sigmoid(fit.beta * fit.x_max + fit.gamma) - sigmoid(fit.gamma))
    assert raw <= 1 + 1e-9  # MiCRObE's p(x_max) <= 1 holds before any clipping
    if shape == "step":
        assert fit(np.array([0.3]))[0] < 0.05 and fit(np.array([0.7]))[0] > 0.95
    if shape == "falling":
        assert p.max() <= 0.3  # at most about the topic's overall rate among x > 0


def test_negative_similarities_did_not_fire():
    assert calibration_apply(1.0, 10.0, -2.0, np.array([-0.5, 0.0])).tolist() == [0.0, 0.0]


def test_max_calibration_picks_the_planted_topic(fitted):
    branches, present, y = planted(1000, seed=1)
    scores = fitted.score(branches, present)
    assert scores.shape == (1000, 12)
    assert np.mean(scores.argmax(axis=1) == y) > 0.9
    assert scores.min() >= 0 and scores.max() <= 1
    # the noise branch's calibrations stay near the prior (1/12); the visual ones reach high
    visual, audio = fitted.features.index("visual"), fitted.features.index("audio")
    top = fitted.alpha * (sigmoid(fitted.beta * fitted.x_max + fitted.gamma) - sigmoid(fitted.gamma))
    assert top[:, visual].min() > 0.8 and top[:, audio].max() < 0.3


def test_a_video_without_a_branch_is_scored_from_the_others_and_zero_shot_adds_evidence():
    branches, present, y = planted(1500, seed=2)
    rng = np.random.default_rng(2)
    zero_shot = rng.normal(0.1, 0.05, size=(1500, 12))
    zero_shot[np.arange(1500), y] += 0.15  # the title mentions the topic
    stage = FirstStage.fit(branches, present, y, None, 12, zero_shot)
    assert stage.features == ["visual", "audio", ZERO_SHOT]
    test_branches, test_present, yt = planted(600, seed=3)
    zs = rng.normal(0.1, 0.05, size=(600, 12))
    zs[np.arange(600), yt] += 0.15
    test_present["visual"][:300] = False
    scores = stage.score(test_branches, test_present, zs)
    # without visual, the zero-shot cosine alone still ranks the right topic first mostly
    assert np.mean(scores[:300].argmax(axis=1) == yt[:300]) > 0.6
    assert np.mean(scores[300:].argmax(axis=1) == yt[300:]) > 0.9
    zs[:10] = np.nan  # no text: that feature does not fire
    nothing = {"visual": np.zeros(600, bool), "audio": np.zeros(600, bool)}
    assert np.all(stage.score(test_branches, nothing, zs)[:10] == 0)


def test_a_topic_without_training_videos_scores_zero(fitted):
    branches, present, y = planted(800, seed=4, n_classes=12)
    keep = y != 5
    stage = FirstStage.fit(
        {b: X[keep] for b, X in branches.items()}, {b: m[keep] for b, m in present.items()}, y[keep], None, 12
    )
    assert stage.n_train[5] == 0 and np.all(stage.alpha[5] == 0)
    assert np.all(stage.score(branches, present)[:, 5] == 0)


def test_state_round_trips(fitted):
    branches, present, _ = planted(300, seed=5)
    restored = FirstStage.from_state(fitted.to_state())
    assert np.array_equal(restored.score(branches, present), fitted.score(branches, present))


def test_scoring_is_cheap_at_usv_scale():
    """212 topics, 1280-d visual and 160-d audio features: the scoring rate on one thread.
    (The report's number comes from 100k videos; here 8k keep the test fast.)"""
    import torch

    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    n_classes, n = 212, 8192
    stage = FirstStage(
        n_classes=n_classes,
        features=["visual", "audio", ZERO_SHOT],
        means={"visual": rng.random(1280, dtype=np.float32), "audio": rng.random(160, dtype=np.float32)},
        centroids={
            "visual": rng.normal(size=(n_classes, 1280)).astype(np.float32),
            "audio": rng.normal(size=(n_classes, 160)).astype(np.float32),
        },
        alpha=np.full((n_classes, 3), 0.9),
        beta=np.full((n_classes, 3), 20.0),
        gamma=np.full((n_classes, 3), -8.0),
        x_max=np.ones((n_classes, 3)),
        n_train=np.full(n_classes, 100),
    )
    branches = {b: rng.random((n, d), dtype=np.float32) for b, d in (("visual", 1280), ("audio", 160))}
    present = {b: np.ones(n, bool) for b in branches}
    zero_shot = rng.random((n, n_classes), dtype=np.float32)
    started = time.perf_counter()
    scores = stage.score(branches, present, zero_shot)
    rate = n / (time.perf_counter() - started)
    assert scores.shape == (n, n_classes)
    assert rate > 2000, f"{rate:.0f} videos/s"


def test_a_few_noise_videos_do_not_calibrate_their_topic_to_certainty():
    """Five training videos of topic 11 carry no signal. Compared with a centroid that includes
    itself, each would sit at cosine ≈ 1/√5 from it while every other video sits near 0 — a
    perfect, and false, separation. Leave-one-out keeps the calibration near the topic's rate."""
    branches, present, y = planted(1200, seed=6)
    y[y == 11] = 0
    noise = np.flatnonzero(y == 0)[:5]
    y[noise] = 11
    branches["visual"][noise] = np.random.default_rng(6).normal(size=(5, 48)) + 3.0
    stage = FirstStage.fit(branches, present, y, None, 12)
    top = stage.alpha * (sigmoid(stage.beta * stage.x_max + stage.gamma) - sigmoid(stage.gamma))
    assert top[11].max() < 0.3
    assert top[:11, stage.features.index("visual")].min() > 0.8

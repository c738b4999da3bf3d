"""Per-branch heads learn what their features carry; fusion uses the branches a video has."""

import numpy as np
import pytest
import torch

from ml.fusion import USV_WEIGHTS, fit_weights, fuse, uncovered, weight_grid
from ml.heads import Head
from ml.metrics import mean_class_accuracy

torch.set_num_threads(1)


def blobs(n: int, *, seed: int, n_classes: int = 3, d: int = 5, spread: float = 0.3):
    rng = np.random.default_rng(seed)
    centres = np.random.default_rng(99).normal(size=(n_classes, d)) * 3
    y = rng.integers(0, n_classes, n)
    return (centres[y] + rng.normal(scale=spread, size=(n, d))).astype(np.float32), y


def accuracy(head: Head, X: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(head.predict_proba(X).argmax(axis=1) == y))


def test_linear_head_learns_a_separable_problem():
    X, y = blobs(300, seed=0)
    Xv, yv = blobs(200, seed=1)
    head = Head.fit(X, y, n_classes=3, epochs=30, seed=0, X_val=Xv, y_val=yv)
    assert accuracy(head, X, y) == 1.0 and accuracy(head, Xv, yv) == 1.0
    p = head.predict_proba(Xv)
    assert p.shape == (200, 3) and np.allclose(p.sum(axis=1), 1.0)
    assert head.report["best_epoch"] <= head.report["epochs_run"] <= 30


def test_hidden_layer_learns_xor_which_a_linear_head_cannot():
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, size=(600, 2)).astype(np.float32)
    y = ((X[:, 0] > 0) ^ (X[:, 1] > 0)).astype(int)
    linear = Head.fit(X, y, n_classes=2, epochs=60, seed=0)
    mlp = Head.fit(X, y, n_classes=2, hidden=32, epochs=150, seed=0, lr=1e-2)
    assert mlp.hidden == 32 and linear.hidden == 0
    assert accuracy(linear, X, y) < 0.7
    assert accuracy(mlp, X, y) > 0.95


def test_lbfgs_reaches_the_same_separable_solution():
    X, y = blobs(300, seed=0)
    head = Head.fit(X, y, n_classes=3, epochs=30, seed=0, optimizer="lbfgs")
    assert accuracy(head, *blobs(200, seed=1)) == 1.0


def test_known_noise_and_missing_rows_do_not_train_the_head():
    X, y = blobs(300, seed=0)
    wrong = (y + 1) % 3
    # the same videos again with wrong labels: once as known noise (weight 0), once without the
    # modality (their feature rows are whatever the caller left there)
    X_all = np.vstack([X, X, X])
    y_all = np.r_[y, wrong, wrong]
    weight = np.r_[np.ones(300), np.zeros(300), np.ones(300)]
    present = np.r_[np.ones(600, bool), np.zeros(300, bool)]
    head = Head.fit(X_all, y_all, sample_weight=weight, present=present, n_classes=3, epochs=30, seed=0)
    assert head.report["rows"] == 300
    assert accuracy(head, X, y) == 1.0
    p = head.predict_proba(X_all, present=present)
    assert np.all(p[600:] == pytest.approx(1 / 3))


def test_class_balancing_raises_mean_class_accuracy_on_an_unbalanced_set():
    rng = np.random.default_rng(0)
    y = (rng.random(2000) < 0.05).astype(int)  # 5 % of class 1, overlapping classes
    X = (rng.normal(size=(2000, 4)) + 0.5 * y[:, None]).astype(np.float32)
    yt = (rng.random(2000) < 0.05).astype(int)
    Xt = (rng.normal(size=(2000, 4)) + 0.5 * yt[:, None]).astype(np.float32)

    def mca(balanced: bool) -> float:
        head = Head.fit(X, y, n_classes=2, epochs=30, seed=0, balanced=balanced)
        return mean_class_accuracy(yt, head.predict_proba(Xt).argmax(axis=1), 2).value

    plain, balanced = mca(False), mca(True)
    assert plain < 0.55 and balanced > 0.68  # plain: 0.50 (always the big class); balanced: 0.73


def test_early_stopping_keeps_the_best_epoch_when_labels_are_pure_noise():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 50)).astype(np.float32)
    y = rng.integers(0, 4, 200)
    head = Head.fit(
        X, y, n_classes=4, epochs=200, seed=0, patience=5, lr=3e-2,
        X_val=rng.normal(size=(200, 50)).astype(np.float32), y_val=rng.integers(0, 4, 200),
    )  # fmt: skip
    report = head.report
    assert report["epochs_run"] < 200
    assert report["epochs_run"] - report["best_epoch"] == 5
    assert report["val_loss"] == min(report["val_history"])


def test_same_seed_same_head_and_state_round_trips():
    X, y = blobs(300, seed=0)
    a = Head.fit(X, y, n_classes=3, hidden=8, epochs=10, seed=7)
    b = Head.fit(X, y, n_classes=3, hidden=8, epochs=10, seed=7)
    c = Head.fit(X, y, n_classes=3, hidden=8, epochs=10, seed=8)
    assert np.array_equal(a.predict_proba(X), b.predict_proba(X))
    assert not np.array_equal(a.predict_proba(X), c.predict_proba(X))
    restored = Head.from_state(a.to_state())
    assert np.array_equal(restored.predict_proba(X), a.predict_proba(X))
    assert all(isinstance(v, np.ndarray | int | float | dict) for v in a.to_state().values())


def test_head_refuses_a_training_set_without_usable_rows():
    X, y = blobs(10, seed=0)
    with pytest.raises(ValueError, match="no training row"):
        Head.fit(X, y, sample_weight=np.zeros(10), n_classes=3, epochs=5, seed=0)


def test_a_video_missing_a_branch_is_fused_from_the_others():
    visual = np.array([[0.9, 0.1], [0.9, 0.1], [0.5, 0.5]])
    audio = np.array([[0.0, 1.0], [0.2, 0.8], [0.5, 0.5]])
    present = {"visual": np.array([True, False, False]), "audio": np.array([True, True, False])}
    fused = fuse({"visual": visual, "audio": audio}, present, USV_WEIGHTS)
    # video 0: (1 * visual + 0.5 * audio) / 1.5; video 1: audio alone; video 2: nothing -> uniform
    assert fused[0] == pytest.approx([(0.9 + 0.0) / 1.5, (0.1 + 0.5) / 1.5])
    assert fused[1] == pytest.approx(audio[1])
    assert fused[2] == pytest.approx([0.5, 0.5])
    assert uncovered(present).tolist() == [False, False, True]


def test_a_missing_branch_row_holding_garbage_does_not_leak_into_the_fusion():
    visual = np.array([[np.nan, np.nan]])
    audio = np.array([[0.3, 0.7]])
    present = {"visual": np.array([False]), "audio": np.array([True])}
    assert fuse({"visual": visual, "audio": audio}, present, USV_WEIGHTS)[0] == pytest.approx([0.3, 0.7])


def test_weight_grid_covers_the_simplex_with_no_branch_at_zero():
    grid = weight_grid(["visual", "audio", "text"])
    assert len(grid) == 36  # i + j + k = 10 with every part >= 1
    assert all(sum(p.values()) == pytest.approx(1.0) and min(p.values()) >= 0.1 for p in grid)


def test_fitted_weights_recover_a_planted_mixture():
    """Each video has exactly one right branch (prob. 0.9 on its topic, the others put 0.9 on one
    wrong topic); branch b is the right one for a share π_b of videos. The fused val
    log-likelihood is then ≈ Σ_b π_b log w_b + const, maximised at w = π (Gibbs' inequality)."""
    n, n_classes = 1000, 5
    rng = np.random.default_rng(0)
    y = rng.integers(0, n_classes, n)
    planted = {"visual": 0.5, "audio": 0.3, "text": 0.2}
    right = np.repeat(np.arange(3), [500, 300, 200])
    probs = {}
    for k, b in enumerate(planted):
        target = np.where(right == k, y, (y + 1 + k) % n_classes)
        p = np.full((n, n_classes), 0.1 / (n_classes - 1))
        p[np.arange(n), target] = 0.9
        probs[b] = p
    present = {b: np.ones(n, bool) for b in planted}
    fitted = fit_weights(probs, present, y, list(planted))
    assert fitted == pytest.approx(planted)


def test_fitted_weights_keep_usvs_when_the_branches_are_indistinguishable():
    rng = np.random.default_rng(0)
    p = rng.dirichlet(np.ones(4), size=50)
    same = {b: p for b in ("visual", "audio", "text")}
    present = {b: np.ones(50, bool) for b in same}
    fitted = fit_weights(same, present, rng.integers(0, 4, 50), list(same), criterion="mca")
    # USV's 1 / 0.5 / 0.5 is 0.5 / 0.25 / 0.25; the nearest grid points keep visual at 0.5
    assert fitted["visual"] == pytest.approx(0.5)
    assert fitted["audio"] + fitted["text"] == pytest.approx(0.5)


def test_calibration_softens_an_overconfident_head_and_keeps_its_ranking():
    X, y = blobs(300, seed=0)
    flipped = y.copy()
    flipped[::4] = (flipped[::4] + 1) % 3  # held-out labels the head cannot get all right
    head = Head.fit(X, y, n_classes=3, epochs=40, seed=0, optimizer="lbfgs", l2=0.0)
    before = head.predict_proba(X)
    temperature = head.calibrate(X, flipped)
    after = head.predict_proba(X)
    assert temperature > 1 and head.temperature == temperature
    assert after.max(axis=1).mean() < before.max(axis=1).mean()
    assert np.array_equal(after.argmax(axis=1), before.argmax(axis=1))
    assert Head.from_state(head.to_state()).temperature == temperature

"""A cheap first-stage topic scorer: MiCRObE's max-calibration model (`002_*.txt` §3.1–3.2).

MiCRObE scores 12M videos against 150K labels by calibrating every (label, feature) pair on its
own and taking the maximum; it is cheap enough to run on everything and decides which items a
costlier model (or, here, a human) looks at next. Our features for topic e are the video's cosine
similarity to topic e's centroid in each branch (the mean of e's training videos) and, when the
caller has it, the text-to-topic-name zero-shot cosine.

Per (topic, feature) pair, the modified Platt scaling of Eq. 1,

    p_{e|f}(x) = α (σ(βx + γ) − σ(γ)),   α, β ≥ 0,

rises monotonically from p(0) = 0 and may plateau below 1 (a feature that fires for a dozen
canyons cannot make Grand Canyon certain). It is fitted by weighted regularised least squares
(Eq. 2) over the examples with x > 0, on feature values quantised into 1e-4 buckets (the paper's
footnote: w = the examples' weight in the bucket, g = their mean truth; exact up to a constant,
since Σ w_t (p − g_t)² = Σ_b W_b (p − G_b)² + const). Negative cosines count as "did not fire".
p(x_max) ≤ 1 on the training range is enforced by shrinking α. The video's score is
p_e = max_f p_{e|f}(x_f) (Eq. 3).

Features are centred on the training mean of their branch before the cosine, so that the cosine
measures where a video sits relative to the collection rather than the shared offset of
non-negative CNN activations. A training video is compared with its topic's centroid *without
itself* (leave-one-out): with five examples a video's own share of the centroid would make its
similarity, and so the calibration, optimistic.
"""

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

ZERO_SHOT = "zero_shot"
BUCKET = 1e-4  # MiCRObE's footnote 1
# λ of Eq. 2, on the sum of squared errors. MiCRObE tunes it on held-out data; we fix it small,
# enough to keep γ and β finite when a feature separates its topic perfectly (the loss then keeps
# falling as the sigmoid steepens) and negligible next to hundreds of training examples.
LAMBDA = 1e-3
CHUNK = 8192  # rows per block: a (8192, 212) float32 block is 7 MB
MAX_SLOPE = 500.0


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))  # overflow-free logistic


@dataclass(frozen=True)
class Calibration:
    alpha: float
    beta: float
    gamma: float
    x_max: float

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return calibration_apply(self.alpha, self.beta, self.gamma, x)


def calibration_apply(alpha, beta, gamma, x: np.ndarray) -> np.ndarray:
    """Eq. 1 for x clipped at 0 (a negative similarity did not fire), clipped to [0, 1] (x beyond
    the training range could lift α(1 − σ(γ)) above 1). Parameters broadcast against x."""
    x = np.maximum(x, 0.0)
    return np.clip(alpha * (_sigmoid(beta * x + gamma) - _sigmoid(gamma)), 0.0, 1.0)


def _loss(theta: np.ndarray, x: np.ndarray, W: np.ndarray, G: np.ndarray, lam: float):
    alpha, beta, gamma = theta
    s1, s0 = _sigmoid(beta * x + gamma), _sigmoid(gamma)
    r = alpha * (s1 - s0) - G
    d1, d0 = s1 * (1 - s1), s0 * (1 - s0)
    Wr = 2 * W * r
    loss = float(np.dot(W * r, r) + lam * np.dot(theta, theta))
    grad = np.array(
        [np.dot(Wr, s1 - s0), alpha * np.dot(Wr, d1 * x), alpha * (np.sum(Wr * d1) - d0 * np.sum(Wr))]
    )
    return loss, grad + 2 * lam * theta


def _weighted_median(x: np.ndarray, weight: np.ndarray) -> float:
    cum = np.cumsum(weight)
    return float(x[np.searchsorted(cum, cum[-1] / 2)])


def calibrate_buckets(x: np.ndarray, W: np.ndarray, G: np.ndarray, *, lam: float = LAMBDA) -> Calibration:
    """Fit Eq. 2 on buckets (centre x, total weight W, mean truth G), x ascending and > 0."""
    from scipy.optimize import minimize

    if len(x) == 0 or not np.any(G > 0):
        return Calibration(0.0, 0.0, 0.0, float(x[-1]) if len(x) else 0.0)
    starts = [np.array([0.5, 5.0, -2.0])]
    positive, negative = W * G, W * (1 - G)
    if negative.sum() > 0:
        # a sigmoid centred between the positives' and the negatives' median similarity
        hi, lo = _weighted_median(x, positive), _weighted_median(x, negative)
        if hi > lo:
            beta = min(4.0 / max(hi - lo, 0.02), MAX_SLOPE)
            starts.append(np.array([1.0, beta, -beta * (hi + lo) / 2]))
    bounds = [(0.0, None), (0.0, MAX_SLOPE), (-MAX_SLOPE, MAX_SLOPE)]
    fits = [
        minimize(_loss, s, args=(x, W, G, lam), jac=True, method="L-BFGS-B", bounds=bounds) for s in starts
    ]
    alpha, beta, gamma = min(fits, key=lambda f: f.fun).x
    x_max = float(x[-1])
    top = alpha * (_sigmoid(beta * x_max + gamma) - _sigmoid(gamma))
    if top > 1.0:
        alpha /= top  # MiCRObE: p_{e|f}(x_max) <= 1
    return Calibration(float(alpha), float(beta), float(gamma), x_max)


def calibrate(
    x: np.ndarray,
    truth: np.ndarray,
    weight: np.ndarray | None = None,
    *,
    lam: float = LAMBDA,
    bucket: float = BUCKET,
) -> Calibration:
    """One (label, feature) calibration from raw examples: quantised, then `calibrate_buckets`."""
    x = np.asarray(x, dtype=np.float64)
    g = np.asarray(truth, dtype=np.float64)
    w = np.ones(len(x)) if weight is None else np.asarray(weight, dtype=np.float64)
    q = np.rint(np.where(np.isfinite(x), x, 0.0) / bucket).astype(np.int64)
    fired = q > 0
    W = np.bincount(q[fired], weights=w[fired])
    WG = np.bincount(q[fired], weights=(w * g)[fired], minlength=len(W))
    nonzero = np.flatnonzero(W > 0)
    return calibrate_buckets(nonzero * bucket, W[nonzero], WG[nonzero] / W[nonzero], lam=lam)


def _unit(X: np.ndarray, mean: np.ndarray) -> np.ndarray:
    Z = np.asarray(X, dtype=np.float32) - mean
    norms = np.linalg.norm(Z, axis=1, keepdims=True)
    return np.divide(Z, norms, out=np.zeros_like(Z), where=norms > 0)


@dataclass
class FirstStage:
    n_classes: int
    features: list[str]  # branch names, then ZERO_SHOT when it was given
    means: dict[str, np.ndarray]  # branch -> (d,) training mean
    centroids: dict[str, np.ndarray]  # branch -> (C, d) unit vectors; zero for a topic with no video
    alpha: np.ndarray  # (C, F) per (topic, feature); α = 0 where the pair carries no evidence
    beta: np.ndarray
    gamma: np.ndarray
    x_max: np.ndarray
    n_train: np.ndarray  # (C,) weighted training videos per topic

    @classmethod
    def fit(
        cls,
        branches: Mapping[str, np.ndarray],
        present: Mapping[str, np.ndarray],
        y: np.ndarray,
        sample_weight: np.ndarray | None,
        n_classes: int,
        zero_shot: np.ndarray | None = None,
        *,
        lam: float = LAMBDA,
        bucket: float = BUCKET,
        chunk: int = CHUNK,
    ) -> "FirstStage":
        """Fit on the rows with a label and a positive weight (pass the training rows only)."""
        y = np.asarray(y).astype(np.int64)
        w = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
        keep = (y >= 0) & (w > 0)
        if keep.any() and y[keep].max() >= n_classes:
            raise ValueError(f"a label is outside 0..{n_classes - 1}")
        n_buckets = round(1 / bucket) + 1
        features = list(branches) + ([ZERO_SHOT] if zero_shot is not None else [])
        means, centroids = {}, {}
        # per feature: the weight and the weight of positives in each (topic, bucket)
        W = {f: np.zeros(n_classes * n_buckets) for f in features}
        WG = {f: np.zeros(n_classes * n_buckets) for f in features}
        offsets = (np.arange(n_classes) * n_buckets)[None, :]

        def accumulate(f: str, x: np.ndarray, labels: np.ndarray, weight: np.ndarray) -> None:
            q = np.rint(np.clip(np.nan_to_num(x, nan=0.0), 0.0, 1.0) / bucket).astype(np.int64)
            index = (q + offsets).ravel()
            W[f] += np.bincount(index, weights=np.repeat(weight, n_classes), minlength=W[f].size)
            hits = np.zeros_like(x, dtype=np.float64)
            hits[np.arange(len(labels)), labels] = weight
            WG[f] += np.bincount(index, weights=hits.ravel(), minlength=W[f].size)

        for b, X in branches.items():
            # in blocks throughout: 245k training videos of 1280-d features are 1.25 GB as float32
            index = np.flatnonzero(keep & np.asarray(present[b], dtype=bool))
            blocks = [index[start : start + chunk] for start in range(0, len(index), chunk)]
            total = sum(
                (np.asarray(X[block], np.float64).sum(axis=0) for block in blocks), np.zeros(X.shape[1])
            )
            means[b] = (total / max(len(index), 1)).astype(np.float32)
            S = np.zeros((n_classes, X.shape[1]))
            for block in blocks:
                members = np.zeros((n_classes, len(block)))
                members[y[block], np.arange(len(block))] = w[block]
                S += members @ _unit(X[block], means[b])
            norms = np.linalg.norm(S, axis=1, keepdims=True)
            centroids[b] = np.divide(S, norms, out=np.zeros_like(S), where=norms > 0).astype(np.float32)
            for block in blocks:
                z, lab, wt = _unit(X[block], means[b]), y[block], w[block]
                x = z @ centroids[b].T
                # leave-one-out for the video's own topic: (S − w z)·z / |S − w z|, with |z| = 1
                dot = np.einsum("ij,ij->i", z, S[lab])
                norm2 = (S[lab] ** 2).sum(axis=1) - 2 * wt * dot + wt**2
                own = np.where(norm2 > 1e-12, (dot - wt) / np.sqrt(np.maximum(norm2, 1e-12)), 0.0)
                x[np.arange(len(lab)), lab] = own
                accumulate(b, x, lab, wt)
        if zero_shot is not None:
            zs = np.asarray(zero_shot, dtype=np.float64)
            if zs.shape != (len(y), n_classes):
                raise ValueError(f"zero_shot must be ({len(y)}, {n_classes}), not {zs.shape}")
            rows = np.flatnonzero(keep)
            for start in range(0, len(rows), chunk):
                block = rows[start : start + chunk]
                accumulate(ZERO_SHOT, zs[block], y[block], w[block])

        shape = (n_classes, len(features))
        alpha, beta, gamma, x_max = (np.zeros(shape) for _ in range(4))
        centres = np.arange(n_buckets) * bucket
        for j, f in enumerate(features):
            Wf, WGf = W[f].reshape(n_classes, n_buckets), WG[f].reshape(n_classes, n_buckets)
            for e in range(n_classes):
                fired = np.flatnonzero(Wf[e, 1:] > 0) + 1  # bucket 0 did not fire (x <= 0)
                fit = calibrate_buckets(centres[fired], Wf[e, fired], WGf[e, fired] / Wf[e, fired], lam=lam)
                alpha[e, j], beta[e, j], gamma[e, j], x_max[e, j] = fit.alpha, fit.beta, fit.gamma, fit.x_max
        n_train = np.bincount(y[keep], weights=np.ones(int(keep.sum())), minlength=n_classes)
        return cls(n_classes, features, means, centroids, alpha, beta, gamma, x_max, n_train.astype(np.int64))

    def score(
        self,
        branches: Mapping[str, np.ndarray],
        present: Mapping[str, np.ndarray],
        zero_shot: np.ndarray | None = None,
        *,
        chunk: int = CHUNK,
    ) -> np.ndarray:
        """(n, C) max-calibrated probabilities. A branch the video lacks, or a zero-shot entry
        that is not finite, contributes nothing; a video with no feature scores 0 everywhere."""
        lacking = [b for b in self.means if b not in branches or b not in present]
        if lacking:
            raise ValueError(f"the first stage was fitted with branches {lacking} that the table lacks")
        n = len(next(iter(present.values()))) if present else len(zero_shot)
        out = np.zeros((n, self.n_classes), dtype=np.float32)
        # float32 parameters keep the block in float32: half the memory traffic of float64
        params = [
            tuple(a[:, j].astype(np.float32) for a in (self.alpha, self.beta, self.gamma))
            for j in range(len(self.features))
        ]
        for start in range(0, n, chunk):
            rows = slice(start, min(start + chunk, n))
            best = out[rows]
            for j, f in enumerate(self.features):
                if f == ZERO_SHOT:
                    if zero_shot is None:
                        continue
                    x = np.asarray(zero_shot[rows], dtype=np.float32)
                    has = np.isfinite(x)
                    x = np.where(has, x, 0.0)
                else:
                    X = np.asarray(branches[f][rows], dtype=np.float32)
                    if X.shape[1] != self.means[f].shape[0]:
                        raise ValueError(
                            f"branch {f} has {X.shape[1]} dimensions, fitted on {self.means[f].shape[0]}"
                        )
                    x = _unit(X, self.means[f]) @ self.centroids[f].T
                    has = np.asarray(present[f][rows], dtype=bool)[:, None]
                p = calibration_apply(*params[j], x)
                np.maximum(best, np.where(has, p, 0.0), out=best)
        return out

    def to_state(self) -> dict:
        state: dict = {"n_classes": self.n_classes, "features": list(self.features)}
        for name in ("alpha", "beta", "gamma", "x_max", "n_train"):
            state[name] = getattr(self, name)
        for b in self.means:
            state[f"mean/{b}"], state[f"centroids/{b}"] = self.means[b], self.centroids[b]
        return state

    @classmethod
    def from_state(cls, state: dict) -> "FirstStage":
        features = list(state["features"])
        branches = [f for f in features if f != ZERO_SHOT]
        return cls(
            int(state["n_classes"]),
            features,
            {b: np.asarray(state[f"mean/{b}"], np.float32) for b in branches},
            {b: np.asarray(state[f"centroids/{b}"], np.float32) for b in branches},
            *(np.asarray(state[name]) for name in ("alpha", "beta", "gamma", "x_max", "n_train")),
        )

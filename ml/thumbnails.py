"""Thumbnail baselines of the micro-video thumbnail benchmark (`004_*.txt`, Table 2).

- Random: a uniformly random candidate (14.09 % accuracy in the paper).
- ASBTv-like (20.92 % for ASBTv): a frame's *attractiveness* (visual quality) plus its
  *representativeness* (how much of the video it stands for), the two criteria ASBTv combines.

Scores compare frames of one video only, so every quality term is rank-normalised within the
video: a dim video's brightest frame is its best-lit one, whatever the absolute level.
"""

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class AsbtvWeights:
    """Priors, not fitted: half attractiveness, half representativeness, as ASBTv weighs the two
    criteria alike. Within attractiveness sharpness counts most because blur is the commonest
    defect of a candidate that passed the dark/uniform filters (`004_*.txt`: dark, blurry and
    uniform frames are filtered first). Within representativeness the near-duplicate cluster's
    share (how long the shot lasts) and the closeness to the video's centroid count alike. With a
    dataset's thumbnail ground truth these can be fitted and measured with `thumbnail_accuracy`."""

    sharpness: float = 0.2
    brightness: float = 0.15
    colourfulness: float = 0.15
    centrality: float = 0.25
    cluster: float = 0.25


def random_scores(n: int, *, seed: int) -> np.ndarray:
    """The Random baseline: i.i.d. uniform scores (a random pick with `pick`)."""
    return np.random.default_rng(seed).random(n)


def colourfulness(rgb: np.ndarray) -> float:
    """Hasler & Süsstrunk (2003), 'Measuring colourfulness in natural images', M^(3):
    σ_rgyb + 0.3 μ_rgyb over the opponent channels rg = R − G and yb = (R + G)/2 − B.
    A grey image scores 0; the paper's 'extremely colourful' starts near 109."""
    image = np.asarray(rgb)
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"colourfulness needs an (h, w, 3) RGB image, not {image.shape}")
    r, g, b = (image[..., i].astype(np.float64) for i in range(3))
    rg = r - g
    yb = 0.5 * (r + g) - b
    sigma = np.sqrt(rg.std() ** 2 + yb.std() ** 2)
    mu = np.sqrt(rg.mean() ** 2 + yb.mean() ** 2)
    return float(sigma + 0.3 * mu)


def _rank01(values: np.ndarray) -> np.ndarray:
    """Ranks scaled to [0, 1] (ties share their mean rank); a single frame gets 0.5."""
    from scipy.stats import rankdata

    values = np.asarray(values, dtype=np.float64)
    if len(values) == 1:
        return np.array([0.5])
    return (rankdata(values) - 1) / (len(values) - 1)


def asbtv_scores(
    *,
    sharpness: np.ndarray,
    brightness: np.ndarray,
    colourfulness: np.ndarray,
    descriptors: np.ndarray,
    cluster_sizes: np.ndarray,
    brightness_target: float = 0.5,
    weights: AsbtvWeights | None = None,
) -> np.ndarray:
    """(n,) scores of one video's n candidate frames; higher is a better thumbnail.

    brightness is on a 0–1 scale and is best near `brightness_target` (mid-range: neither
    under- nor over-exposed). cluster_sizes are the frames in each candidate's near-duplicate
    cluster, as counts or as shares of the video's frames (only their ratio to the largest
    matters). The centroid is the cluster-size-weighted mean of the unit descriptors, so that each
    candidate stands for the frames its cluster removed."""
    weights = weights or AsbtvWeights()
    sharp = np.asarray(sharpness, dtype=np.float64)
    n = len(sharp)
    columns = {
        "brightness": np.asarray(brightness, dtype=np.float64),
        "colourfulness": np.asarray(colourfulness, dtype=np.float64),
        "cluster_sizes": np.asarray(cluster_sizes, dtype=np.float64),
    }
    D = np.asarray(descriptors, dtype=np.float64)
    if n == 0:
        raise ValueError("a video needs at least one candidate frame to score")
    if any(v.shape != (n,) for v in columns.values()) or D.ndim != 2 or len(D) != n:
        shapes = {k: v.shape for k, v in columns.items()} | {"descriptors": D.shape}
        raise ValueError(f"every input needs one entry per frame ({n}); got {shapes}")
    sizes = columns["cluster_sizes"]
    if np.any(sizes <= 0):
        raise ValueError("cluster sizes must be positive")
    norms = np.linalg.norm(D, axis=1, keepdims=True)
    unit = np.divide(D, norms, out=np.zeros_like(D), where=norms > 0)
    centroid = (sizes[:, None] * unit).sum(axis=0)
    centroid /= max(np.linalg.norm(centroid), 1e-12)
    centrality = unit @ centroid
    attractiveness = (
        weights.sharpness * _rank01(sharp)
        + weights.brightness * _rank01(-np.abs(columns["brightness"] - brightness_target))
        + weights.colourfulness * _rank01(columns["colourfulness"])
    )
    representativeness = weights.centrality * _rank01(centrality) + weights.cluster * sizes / sizes.max()
    return attractiveness + representativeness


def pick(scores: np.ndarray) -> int:
    """Index of the best-scoring candidate; ties go to the earliest frame."""
    scores = np.asarray(scores)
    if scores.size == 0:
        raise ValueError("no candidate to pick from")
    return int(np.argmax(scores))

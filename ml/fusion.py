"""Late fusion of the branches' topic probabilities (USV's MMF-Net, `001_*.txt` §4.2 and Eq. 4).

MMF-Net weights the visual, audio and text branches' class scores 1, 0.5, 0.5, "since vision
plays a more important role", and says the coefficients were "set heuristically rather than by
finding the optimized combination". `fit_weights` is that optimised combination, fitted on val,
so a run can report both and say which one won.

Micro-videos often lack a branch (no speech, no subtitle, a broken audio track). A video is
fused over the branches it has, with the weights renormalised over them: a missing branch is
not evidence against any topic, so it must not drag the average toward uniform.
"""

import itertools
import logging
from collections.abc import Mapping, Sequence

import numpy as np

logger = logging.getLogger(__name__)

USV_WEIGHTS: dict[str, float] = {"visual": 1.0, "audio": 0.5, "text": 0.5}
CRITERIA = ("loglik", "mca")
GRID_STEP = 0.1
TIE_TOLERANCE = 1e-9


def uncovered(present: Mapping[str, np.ndarray], n: int | None = None) -> np.ndarray:
    """(n,) bool: the videos that have none of the given branches."""
    masks = [np.asarray(m, dtype=bool) for m in present.values()]
    if not masks:
        if n is None:
            raise ValueError("no branch given and no row count")
        return np.ones(n, dtype=bool)
    return ~np.logical_or.reduce(masks)


def fuse(
    probs: Mapping[str, np.ndarray],
    present: Mapping[str, np.ndarray],
    weights: Mapping[str, float] = USV_WEIGHTS,
) -> np.ndarray:
    """(n, C) weighted average of each video's present branches; weights are renormalised per
    video over the branches it has. A video with no branch (or only zero-weight ones) gets a
    uniform row and is logged; `uncovered` names those videos for the caller's report."""
    names = list(probs)
    if not names:
        raise ValueError("fusion needs at least one branch")
    missing = [b for b in names if b not in present or b not in weights]
    if missing:
        raise ValueError(f"branches {missing} have probabilities but no present mask or weight")
    n, n_classes = np.shape(probs[names[0]])
    total = np.zeros((n, n_classes))
    mass = np.zeros(n)
    for b in names:
        p = np.asarray(probs[b], dtype=np.float64)
        if p.shape != (n, n_classes):
            raise ValueError(f"branch {b} has probabilities of shape {p.shape}, expected {(n, n_classes)}")
        if float(weights[b]) < 0:
            raise ValueError(f"branch {b} has a negative weight {weights[b]}")
        w = float(weights[b]) * np.asarray(present[b], dtype=bool)
        total += w[:, None] * np.where(w[:, None] > 0, p, 0.0)  # a missing row may hold anything
        mass += w
    fused = np.full((n, n_classes), 1.0 / n_classes)
    covered = mass > 0
    fused[covered] = total[covered] / mass[covered, None]
    if not covered.all():
        logger.warning("%d of %d videos have no branch to fuse: uniform scores", (~covered).sum(), n)
    return fused


def weight_grid(branches: Sequence[str], step: float = GRID_STEP) -> list[dict[str, float]]:
    """Points of the simplex over `branches` in steps of `step` with every weight >= step: a
    branch at 0 would leave the videos that have only it unscored (`fuse`'s uniform row)."""
    units = round(1 / step)
    k = len(branches)
    points = []
    for combo in itertools.product(range(1, units + 1), repeat=k):
        if sum(combo) == units:
            points.append({b: c / units for b, c in zip(branches, combo, strict=True)})
    return points


def _log_likelihood(fused: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(np.log(np.maximum(fused[np.arange(len(y)), y], 1e-12))))


def _mca(fused: np.ndarray, y: np.ndarray) -> float:
    from ml.metrics import mean_class_accuracy

    return mean_class_accuracy(y, fused.argmax(axis=1), fused.shape[1]).value


def fit_weights(
    probs_val: Mapping[str, np.ndarray],
    present_val: Mapping[str, np.ndarray],
    y_val: np.ndarray,
    branches: Sequence[str],
    *,
    criterion: str = "loglik",
    step: float = GRID_STEP,
) -> dict[str, float]:
    """Fusion weights fitted on val: the grid point of `weight_grid` that maximises the val
    log-likelihood (default) or mca. Log-likelihood is the default because it is smooth: on a
    few hundred val videos mca moves in steps of single videos and many grid points tie. Ties
    (within 1e-9) go to the point nearest USV's weights, so without evidence we keep MMF-Net's.
    Returns weights summing to 1 over `branches`."""
    if criterion not in CRITERIA:
        raise ValueError(f"criterion must be one of {CRITERIA}, not {criterion!r}")
    branches = list(branches)
    if not branches:
        raise ValueError("fit_weights needs at least one branch")
    y = np.asarray(y_val).astype(np.int64)
    rows = (y >= 0) & ~uncovered({b: present_val[b] for b in branches})
    if not rows.any():
        raise ValueError("no val video with a label and a branch to fit fusion weights on")
    probs = {b: np.asarray(probs_val[b])[rows] for b in branches}
    present = {b: np.asarray(present_val[b], dtype=bool)[rows] for b in branches}
    y = y[rows]
    usv = np.array([USV_WEIGHTS.get(b, 1.0) for b in branches])
    usv = usv / usv.sum()
    score = _log_likelihood if criterion == "loglik" else _mca
    best: tuple[float, float, dict[str, float]] | None = None
    for point in weight_grid(branches, step):
        value = score(fuse(probs, present, point), y)
        distance = float(np.abs(np.array([point[b] for b in branches]) - usv).sum())
        if (
            best is None
            or value > best[0] + TIE_TOLERANCE
            or (value >= best[0] - TIE_TOLERANCE and distance < best[1])
        ):
            best = (value, distance, point)
    return best[2]

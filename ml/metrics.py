"""Topic-recognition and thumbnail metrics of the seed papers, as numbers with the count behind them.

- USV (`001_*.txt`, §5): mean class accuracy (mca), because its validation set is unbalanced;
  top-k accuracy for the downstream sets.
- MV-58K (`000_*.txt`, Fig. 2): per-tag average precision against the tag's number of training
  examples, which exposes unlearnable "stopword" tags; per-tag mAP (0.05 uncurated) and per-video
  mAP (0.21).
- EASTERN (`003_*.txt`, §5.1): Macro-F (mean of the per-class F values) and Micro-F (all classes
  pooled into one).
- Thumbnails (`004_*.txt`, Table 2): accuracy = share of videos whose picked candidate is the
  ground-truth one (Random 14.09 %, ASBTv 20.92 %).

Every metric returns `Metric(value, n)`: n is the number of examples behind the value, so a
dashboard can tell 0.8 on 12 videos from 0.8 on 12,000; value is None when n == 0 or the metric
is undefined (an AP with no positive). Ties in the scores are resolved pessimistically (a tied
wrong class ranks above the true one), so a uniform row never counts as a hit.
"""

from dataclasses import asdict, dataclass

import numpy as np

# A tag whose AP is less than this above chance (its prevalence, the AP of a random ranking) is
# "unlearnable": MV-58K's stopword tags (#revine, #lol) sit at chance whatever their training
# count. 0.15 is our choice: on a few hundred evaluation videos an AP's sampling spread is about
# ±0.1, so a smaller margin would flag learnable rare topics by bad luck.
UNLEARNABLE_MARGIN = 0.15
MIN_TRAIN = 5  # training examples a topic needs before its AP means anything (TrainSettings too)

TAG_STATUSES = ("ok", "too few training examples", "no positive in eval", "unlearnable")


@dataclass(frozen=True)
class Metric:
    value: float | None
    n: int

    def as_dict(self) -> dict:
        return {"value": self.value, "n": self.n}


@dataclass(frozen=True)
class TagAP:
    index: int
    ap: float | None
    n_train: int
    n_eval_pos: int
    prevalence: float
    status: str  # one of TAG_STATUSES

    def as_dict(self) -> dict:
        return asdict(self)


def _labels(y_true: np.ndarray, n_classes: int | None = None) -> np.ndarray:
    y = np.asarray(y_true)
    if y.ndim != 1:
        raise ValueError(f"labels must be one-dimensional, not of shape {y.shape}")
    y = y.astype(np.int64)
    if len(y) and (y.min() < 0 or (n_classes is not None and y.max() >= n_classes)):
        raise ValueError(f"labels must lie in 0..{n_classes}; drop unknown (-1) labels before scoring")
    return y


def _scores(scores: np.ndarray, n: int) -> np.ndarray:
    s = np.asarray(scores, dtype=np.float64)
    if s.ndim != 2 or s.shape[0] != n:
        raise ValueError(f"scores must be (n={n}, C), not {s.shape}")
    return s


def mean_class_accuracy(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> Metric:
    """USV's mca: the accuracy of each class present in y_true, averaged over those classes."""
    y = _labels(y_true, n_classes)
    pred = np.asarray(y_pred).astype(np.int64)
    if len(y) == 0:
        return Metric(None, 0)
    hits = np.bincount(y, weights=(pred == y).astype(np.float64), minlength=n_classes)
    counts = np.bincount(y, minlength=n_classes)
    present = counts > 0
    return Metric(float(np.mean(hits[present] / counts[present])), len(y))


def _true_rank(y: np.ndarray, s: np.ndarray) -> np.ndarray:
    """1 + the classes scoring at least as high as the true one (ties count against it)."""
    true_score = s[np.arange(len(y)), y]
    return (s >= true_score[:, None]).sum(axis=1)


def top_k_accuracy(y_true: np.ndarray, scores: np.ndarray, k: int) -> Metric:
    y = _labels(y_true)
    if len(y) == 0:
        return Metric(None, 0)
    s = _scores(scores, len(y))
    return Metric(float(np.mean(_true_rank(y, s) <= k)), len(y))


def average_precision(y_binary: np.ndarray, scores: np.ndarray) -> Metric:
    """Non-interpolated AP as scikit-learn computes it: sum over score thresholds of
    (recall gained) × (precision there); tied scores form one threshold."""
    truth = np.asarray(y_binary).astype(bool)
    s = np.asarray(scores, dtype=np.float64)
    if truth.shape != s.shape or truth.ndim != 1:
        raise ValueError(f"y_binary {truth.shape} and scores {s.shape} must be matching vectors")
    n_pos = int(truth.sum())
    if n_pos == 0:
        return Metric(None, len(truth))
    order = np.argsort(-s, kind="stable")
    s, truth = s[order], truth[order]
    # the last position of each run of equal scores is where that threshold's counts are read
    ends = np.r_[np.flatnonzero(np.diff(s) != 0), len(s) - 1]
    tp = np.cumsum(truth)[ends]
    precision = tp / (ends + 1)
    recall_gain = np.diff(np.r_[0, tp]) / n_pos
    return Metric(float(np.sum(recall_gain * precision)), len(truth))


def per_tag_ap(
    y_true: np.ndarray,
    scores: np.ndarray,
    n_train: np.ndarray,
    min_train: int = MIN_TRAIN,
    *,
    unlearnable_margin: float = UNLEARNABLE_MARGIN,
) -> list[TagAP]:
    """MV-58K's per-tag AP beside each tag's training count, with why a tag has no usable AP."""
    y = _labels(y_true)
    s = _scores(scores, len(y))
    n_classes = s.shape[1]
    train = np.asarray(n_train).astype(np.int64)
    if train.shape != (n_classes,):
        raise ValueError(f"n_train must have one count per class ({n_classes}), not {train.shape}")
    tags = []
    for c in range(n_classes):
        positive = y == c
        n_pos = int(positive.sum())
        prevalence = n_pos / len(y) if len(y) else 0.0
        ap = average_precision(positive, s[:, c]).value if n_pos else None
        if train[c] < min_train:
            status, ap = "too few training examples", None
        elif ap is None:
            status = "no positive in eval"
        elif ap - prevalence < unlearnable_margin:
            status = "unlearnable"
        else:
            status = "ok"
        tags.append(TagAP(c, ap, int(train[c]), n_pos, prevalence, status))
    return tags


def map_per_tag(y_true: np.ndarray, scores: np.ndarray) -> Metric:
    """Mean over the tags with a positive example of each tag's AP over the videos."""
    y = _labels(y_true)
    if len(y) == 0:
        return Metric(None, 0)
    s = _scores(scores, len(y))
    aps = [average_precision(y == c, s[:, c]).value for c in np.unique(y)]
    return Metric(float(np.mean(aps)), len(y))


def map_per_video(y_true: np.ndarray, scores: np.ndarray) -> Metric:
    """Mean over videos of the AP of the video's ranking of topics. With one true topic per video
    that AP is 1 / (its rank), ties ranked against it as in `average_precision`."""
    y = _labels(y_true)
    if len(y) == 0:
        return Metric(None, 0)
    s = _scores(scores, len(y))
    return Metric(float(np.mean(1.0 / _true_rank(y, s))), len(y))


def _confusion_counts(y: np.ndarray, pred: np.ndarray, n_classes: int) -> tuple[np.ndarray, ...]:
    tp = np.bincount(y[pred == y], minlength=n_classes)
    fp = np.bincount(pred, minlength=n_classes) - tp
    fn = np.bincount(y, minlength=n_classes) - tp
    return tp, fp, fn


def macro_f1(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> Metric:
    """EASTERN's Macro-F: the F1 of every class that occurs in y_true or y_pred, averaged
    (scikit-learn's `f1_score(average="macro")`); a class never predicted correctly has F1 0."""
    y = _labels(y_true, n_classes)
    pred = _labels(y_pred, n_classes)
    if len(y) == 0:
        return Metric(None, 0)
    tp, fp, fn = _confusion_counts(y, pred, n_classes)
    seen = (tp + fp + fn) > 0
    f1 = 2 * tp[seen] / (2 * tp[seen] + fp[seen] + fn[seen])
    return Metric(float(np.mean(f1)), len(y))


def micro_f1(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> Metric:
    """EASTERN's Micro-F: F1 of all decisions pooled. With exactly one predicted and one true
    label per video it equals accuracy; it is kept separate so multi-label runs can share it."""
    y = _labels(y_true, n_classes)
    pred = _labels(y_pred, n_classes)
    if len(y) == 0:
        return Metric(None, 0)
    tp, fp, fn = (int(v.sum()) for v in _confusion_counts(y, pred, n_classes))
    return Metric(2 * tp / (2 * tp + fp + fn), len(y))


def thumbnail_accuracy(picks: np.ndarray, truths: np.ndarray) -> Metric:
    """Share of the videos with a ground-truth candidate (truth >= 0; -1 = none) whose picked
    candidate is that one (the benchmark of `004_*.txt`)."""
    picks, truths = np.asarray(picks), np.asarray(truths)
    if picks.shape != truths.shape:
        raise ValueError(f"picks {picks.shape} and truths {truths.shape} differ")
    known = truths >= 0
    n = int(known.sum())
    if n == 0:
        return Metric(None, 0)
    return Metric(float(np.mean(picks[known] == truths[known])), n)


def evaluate(y_true: np.ndarray, scores: np.ndarray, n_classes: int) -> dict:
    """All topic metrics of one scored subset, JSON-ready. Unknown labels (-1) are left out;
    the predicted topic is the argmax (ties to the lowest index)."""
    y_all = np.asarray(y_true).astype(np.int64)
    s = _scores(scores, len(y_all))
    if s.shape[1] != n_classes:
        raise ValueError(f"scores have {s.shape[1]} classes, expected {n_classes}")
    known = y_all >= 0
    y, s = y_all[known], s[known]
    pred = s.argmax(axis=1) if len(y) else np.zeros(0, np.int64)
    metrics = {
        "mca": mean_class_accuracy(y, pred, n_classes),
        "top1": top_k_accuracy(y, s, 1),
        "top5": top_k_accuracy(y, s, 5),
        "map_tag": map_per_tag(y, s),
        "map_video": map_per_video(y, s),
        "macro_f": macro_f1(y, pred, n_classes),
        "micro_f": micro_f1(y, pred, n_classes),
    }
    return {name: metric.as_dict() for name, metric in metrics.items()}

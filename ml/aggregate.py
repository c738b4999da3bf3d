"""Answers → per-item labels: majority vote and Dawid–Skene. Plain numpy.

USV's rule, the `auto` choice and what a label means as a verdict live in `ml.verdicts`.

Answers are integer codes (see `encode_answers`): one row per answer with the item, the worker
and the label as indices into `items`, `workers` and `classes`. Every method returns an
`Aggregation` with, per item, the label (class index), a confidence in [0, 1], the number of
answers used, whether the answers disagreed, and the method's name. Items with a known answer
(gold) take that answer with confidence 1; Dawid–Skene also clamps them while it learns the
workers' confusion matrices, so gold teaches it who is reliable.
"""

from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field

import numpy as np

NO_GOLD = -1
_EPS = 1e-10
# Labels read as USV's "No" (the video's main topic is not the query) when no negative is named.
NEGATIVE_NAMES = frozenset({"no", "n", "false", "f", "0", "noise"})


class AggregationError(ValueError):
    """The answers cannot be aggregated as asked (empty, wrong label set, bad gold)."""


@dataclass(frozen=True)
class Answers:
    item: np.ndarray  # (A,) int: index into `items`
    worker: np.ndarray  # (A,) int: index into `workers`
    label: np.ndarray  # (A,) int: index into `classes`
    items: tuple
    workers: tuple
    classes: tuple
    gold: np.ndarray  # (N,) int: class index of the known answer, NO_GOLD where unknown

    @property
    def n_items(self) -> int:
        return len(self.items)

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    def counts(self) -> np.ndarray:
        """(N, K) votes per item and class."""
        flat = self.item * self.n_classes + self.label
        return np.bincount(flat, minlength=self.n_items * self.n_classes).reshape(self.n_items, -1)


@dataclass(frozen=True)
class Aggregation:
    method: str
    label: np.ndarray  # (N,) int class index
    confidence: np.ndarray  # (N,) float
    answers_used: np.ndarray  # (N,) int
    disputed: np.ndarray  # (N,) bool: the answers were not unanimous
    posterior: np.ndarray | None = None  # (N, K) for Dawid–Skene
    confusion: np.ndarray | None = None  # (W, K, K): P(answer = l | truth = k) per worker
    prior: np.ndarray | None = None  # (K,)
    iterations: int = 0
    converged: bool = True
    notes: dict = field(default_factory=dict)


def encode_answers(
    items: Sequence[Hashable],
    workers: Sequence[Hashable],
    labels: Sequence[Hashable],
    gold: dict | None = None,
    classes: Sequence[Hashable] | None = None,
) -> Answers:
    """Index raw answers; items and workers keep their first-seen order, classes are sorted.

    `gold` maps item → known label; a gold label must be one of the classes.
    """
    if not (len(items) == len(workers) == len(labels)):
        raise AggregationError("items, workers and labels must have the same length")
    if len(items) == 0:
        raise AggregationError("there are no answers to aggregate")
    item_codes: dict = {}
    worker_codes: dict = {}
    item = np.fromiter((item_codes.setdefault(i, len(item_codes)) for i in items), np.int64, len(items))
    worker = np.fromiter(
        (worker_codes.setdefault(w, len(worker_codes)) for w in workers), np.int64, len(workers)
    )
    known = sorted(set(labels) | set((gold or {}).values())) if classes is None else list(classes)
    class_codes = {c: k for k, c in enumerate(known)}
    try:
        label = np.fromiter((class_codes[lab] for lab in labels), np.int64, len(labels))
    except KeyError as exc:
        raise AggregationError(f"label {exc.args[0]!r} is not one of the classes {known}") from None
    gold_codes = np.full(len(item_codes), NO_GOLD, dtype=np.int64)
    for key, value in (gold or {}).items():
        if value not in class_codes:
            raise AggregationError(f"gold label {value!r} of item {key!r} is not one of the classes {known}")
        if key in item_codes:  # gold for an item nobody answered has nothing to decide
            gold_codes[item_codes[key]] = class_codes[value]
    return Answers(item, worker, label, tuple(item_codes), tuple(worker_codes), tuple(known), gold_codes)


def _apply_gold(answers: Answers, label: np.ndarray, confidence: np.ndarray) -> None:
    known = answers.gold != NO_GOLD
    label[known] = answers.gold[known]
    confidence[known] = 1.0


def _unanimity(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    used = counts.sum(axis=1)
    return used, counts.max(axis=1) < used


def majority_vote(answers: Answers, *, tie_break: int | None = None) -> Aggregation:
    """The most frequent answer per item; confidence is its share of the votes.

    Ties go to `tie_break` when it is among the tied classes, else to the class answered most
    often over the whole set (the empirical prior), then to the lowest class index — the same
    inputs always give the same verdicts.
    """
    counts = answers.counts()
    used, disputed = _unanimity(counts)
    overall = np.bincount(answers.label, minlength=answers.n_classes)
    # Rank classes by (tie_break first, overall frequency, lower index) and add it as a fraction
    # below one vote, so it only decides between classes with equal counts.
    order = np.lexsort((-np.arange(answers.n_classes), overall))  # ascending preference
    preference = np.empty(answers.n_classes)
    preference[order] = np.arange(answers.n_classes)
    if tie_break is not None:
        preference[tie_break] = answers.n_classes
    score = counts + preference / (answers.n_classes + 1.0)
    label = score.argmax(axis=1)
    top = counts.max(axis=1, keepdims=True)
    tied = (counts == top).sum(axis=1) > 1
    confidence = counts[np.arange(answers.n_items), label] / np.maximum(used, 1)
    _apply_gold(answers, label, confidence)
    return Aggregation("mv", label, confidence, used, disputed, notes={"ties": int(tied.sum())})


def _m_step(answers: Answers, posterior: np.ndarray, n_workers: int) -> np.ndarray:
    """Per-worker confusion matrices P(answer = l | truth = k), shape (W, K, K)."""
    k = answers.n_classes
    slot = answers.worker * k + answers.label
    counts = np.empty((n_workers, k, k))
    for truth in range(k):
        weights = posterior[answers.item, truth]
        counts[:, truth, :] = np.bincount(slot, weights=weights, minlength=n_workers * k).reshape(-1, k)
    np.clip(counts, _EPS, None, out=counts)
    return counts / counts.sum(axis=2, keepdims=True)


def _e_step(answers: Answers, log_prior: np.ndarray, log_confusion: np.ndarray) -> tuple[np.ndarray, float]:
    """Item posteriors from the current parameters, and the marginal log-likelihood."""
    per_answer = log_confusion[answers.worker, :, answers.label]  # (A, K)
    log_post = np.empty((answers.n_items, answers.n_classes))
    for truth in range(answers.n_classes):
        log_post[:, truth] = np.bincount(
            answers.item, weights=per_answer[:, truth], minlength=answers.n_items
        )
    log_post += log_prior
    top = log_post.max(axis=1, keepdims=True)
    log_post -= top
    np.exp(log_post, out=log_post)
    total = log_post.sum(axis=1, keepdims=True)
    log_post /= total
    return log_post, float((np.log(total) + top).sum())


def _clamp_gold(answers: Answers, posterior: np.ndarray) -> None:
    known = np.flatnonzero(answers.gold != NO_GOLD)
    posterior[known] = 0.0
    posterior[known, answers.gold[known]] = 1.0


def dawid_skene(answers: Answers, *, max_iter: int = 100, tol: float = 1e-7) -> Aggregation:
    """Dawid & Skene (1979) by EM, started from majority-vote shares.

    Gold items keep a one-hot posterior through every iteration, so they pin the confusion
    matrices of the workers who answered them. Stops when the marginal log-likelihood per answer
    improves by less than `tol`.
    """
    counts = answers.counts()
    used, disputed = _unanimity(counts)
    n_workers = len(answers.workers)
    posterior = counts / np.maximum(used, 1)[:, None]
    _clamp_gold(answers, posterior)
    previous, converged, iteration = -np.inf, False, 0
    while iteration < max_iter:
        iteration += 1
        prior = np.clip(posterior.mean(axis=0), _EPS, None)
        confusion = _m_step(answers, posterior, n_workers)
        posterior, loglik = _e_step(answers, np.log(prior), np.log(confusion))
        _clamp_gold(answers, posterior)
        loglik /= len(answers.item)
        if loglik - previous < tol:
            converged = True
            break
        previous = loglik
    prior = posterior.mean(axis=0)
    confusion = _m_step(answers, posterior, n_workers)
    label = posterior.argmax(axis=1)
    confidence = posterior[np.arange(answers.n_items), label]
    return Aggregation(
        "ds", label, confidence, used, disputed, posterior, confusion, prior, iteration, converged
    )


def worker_confusion(answers: Answers, reference: np.ndarray) -> np.ndarray:
    """(W, K, K) counts of each worker's answers against reference labels (gold, or verdicts),
    [worker, reference, answer]; items whose reference is NO_GOLD do not count. Row-normalised,
    it gives P(answer | truth) per worker, e.g. for `ml.intervals.usv_rule_characteristics`."""
    reference = np.asarray(reference)
    truth = reference[answers.item]
    known = truth != NO_GOLD
    k, n_workers = answers.n_classes, len(answers.workers)
    flat = (answers.worker[known] * k + truth[known]) * k + answers.label[known]
    return np.bincount(flat, minlength=n_workers * k * k).reshape(n_workers, k, k)


def negative_class(classes: Sequence, negative: Hashable | None = None) -> int:
    """Index of USV's "No" among two classes: the one named, else a recognisable no/false/0."""
    if len(classes) != 2:
        raise AggregationError(f"USV's rule needs exactly two labels, got {len(classes)}: {list(classes)}")
    if negative is not None:
        matches = [k for k, c in enumerate(classes) if str(c) == str(negative)]
        if not matches:
            raise AggregationError(f"the negative label {negative!r} is not one of {list(classes)}")
        return matches[0]
    matches = [k for k, c in enumerate(classes) if str(c).strip().lower() in NEGATIVE_NAMES]
    if len(matches) != 1:
        raise AggregationError(f"cannot tell which of {list(classes)} means No: name the negative label")
    return matches[0]

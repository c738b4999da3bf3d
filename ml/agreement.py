"""How much annotators agree: Cohen's kappa, Krippendorff's alpha (nominal), disputed items.

Crowd answers come from different workers per item, so kappa compares an item's first and
second answers (two "slots", as USV's two annotators), while alpha takes every answer of every
item with at least two, whoever gave them.
"""

from dataclasses import dataclass

import numpy as np

from ml.aggregate import Answers


class AgreementError(ValueError):
    pass


def cohen_kappa(first: np.ndarray, second: np.ndarray, n_classes: int | None = None) -> float:
    """Cohen (1960): (observed − chance agreement) / (1 − chance) for paired class indices."""
    first, second = np.asarray(first), np.asarray(second)
    if first.shape != second.shape or first.ndim != 1:
        raise AgreementError("kappa needs two equally long sequences of labels")
    if first.size == 0:
        raise AgreementError("kappa needs at least one item answered twice")
    k = int(max(first.max(), second.max()) + 1) if n_classes is None else n_classes
    observed = float((first == second).mean())
    chance = float((np.bincount(first, minlength=k) * np.bincount(second, minlength=k)).sum()) / first.size**2
    if chance == 1.0:
        return 1.0  # both slots always gave the same single label: perfect, if uninformative
    return (observed - chance) / (1 - chance)


def first_two_answers(answers: Answers, mask: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Labels of each item's first and second answer (in answer order), for items with two or
    more; `mask` (per item, bool) keeps only some items, e.g. one topic."""
    order = np.argsort(answers.item, kind="stable")
    items, labels = answers.item[order], answers.label[order]
    starts = np.flatnonzero(np.r_[True, items[1:] != items[:-1]])
    sizes = np.diff(np.r_[starts, items.size])
    paired = starts[sizes >= 2]
    if mask is not None:
        paired = paired[np.asarray(mask, dtype=bool)[items[paired]]]
    return labels[paired], labels[paired + 1]


def pairwise_kappa(answers: Answers, mask: np.ndarray | None = None) -> float:
    first, second = first_two_answers(answers, mask)
    return cohen_kappa(first, second, answers.n_classes)


def krippendorff_alpha(answers: Answers, mask: np.ndarray | None = None) -> float:
    """Krippendorff's alpha for nominal data, any number of answers per item (missing allowed).

    `mask` (per item, bool) restricts it to some items, e.g. one topic. Items with one answer are
    not pairable and do not count (Krippendorff 2011, "Computing Krippendorff's alpha-reliability").
    """
    counts = answers.counts().astype(float)
    if mask is not None:
        counts = counts[np.asarray(mask, dtype=bool)]
    m = counts.sum(axis=1)
    counts = counts[m >= 2]
    m = m[m >= 2]
    if counts.size == 0:
        raise AgreementError("alpha needs at least one item with two or more answers")
    n = m.sum()
    # Observed coincidences on the diagonal: Σ_u n_uk(n_uk − 1)/(m_u − 1); totals n_k = Σ_u n_uk.
    agree = ((counts * (counts - 1)).sum(axis=1) / (m - 1)).sum()
    totals = counts.sum(axis=0)
    expected_agree = (totals * (totals - 1)).sum() / (n - 1)
    disagree_observed, disagree_expected = n - agree, n - expected_agree
    if disagree_expected == 0:
        return 1.0  # every answer is the same label: no variation to be unreliable about
    return float(1 - disagree_observed / disagree_expected)


@dataclass(frozen=True)
class Disputed:
    item: int  # index into answers.items
    entropy: float  # of the item's answer distribution, in bits
    answers: int
    counts: tuple[int, ...]


def most_disputed(answers: Answers, limit: int = 50, posterior: np.ndarray | None = None) -> list[Disputed]:
    """Items whose answers split the most: highest vote entropy (or, given Dawid–Skene posteriors,
    highest posterior entropy), then more answers first, then item order — deterministic."""
    counts = answers.counts()
    used = counts.sum(axis=1)
    share = posterior if posterior is not None else counts / np.maximum(used, 1)[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        entropy = -np.where(share > 0, share * np.log2(share), 0.0).sum(axis=1)
    entropy = np.round(entropy, 12)  # equal splits must compare equal whatever the rounding
    order = np.lexsort((np.arange(counts.shape[0]), -used, -entropy))
    picked = [i for i in order[:limit] if entropy[i] > 0]
    return [
        Disputed(int(i), float(entropy[i]), int(used[i]), tuple(int(c) for c in counts[i])) for i in picked
    ]

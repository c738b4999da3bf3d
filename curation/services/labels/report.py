"""What an aggregation run learnt beside its verdicts: per-worker quality and agreement (pure)."""

from collections.abc import Sequence

import numpy as np

from ml.aggregate import worker_confusion
from ml.agreement import AgreementError, krippendorff_alpha, most_disputed, pairwise_kappa

DISPUTED_LISTED = 50


def worker_quality_report(verdicts) -> dict:
    """Per worker key: answers, confusion [verdict][answer] counts over the run's classes (a
    disagreement has no class and does not count), gold answers and accuracy, and for
    Dawid–Skene the estimated P(answer | truth)."""
    answers = verdicts.answers
    against_verdicts = worker_confusion(answers, verdicts.reference)
    against_gold = worker_confusion(answers, answers.gold)
    answered = np.bincount(answers.worker, minlength=len(answers.workers))
    gold_answers = against_gold.sum(axis=(1, 2))
    gold_correct = np.trace(against_gold, axis1=1, axis2=2)
    report = {}
    for w, key in enumerate(answers.workers):
        entry = {
            "answers": int(answered[w]),
            "confusion": against_verdicts[w].tolist(),
            "gold_answers": int(gold_answers[w]),
            "gold_accuracy": round(float(gold_correct[w] / gold_answers[w]), 4) if gold_answers[w] else None,
        }
        if verdicts.confusion is not None:
            entry["estimated"] = np.round(verdicts.confusion[w], 4).tolist()
        report[str(key)] = entry
    return report


def _agreement(answers, mask: np.ndarray | None) -> dict:
    result: dict = {}
    try:
        result["kappa"] = round(pairwise_kappa(answers, mask), 4)
    except AgreementError:
        result["kappa"] = None  # no video of this group has two answers
    try:
        result["alpha"] = round(krippendorff_alpha(answers, mask), 4)
    except AgreementError:
        result["alpha"] = None
    return result


def agreement_report(verdicts, topic_per_item: Sequence[str | None]) -> dict:
    """Cohen's kappa (first two answers per video) and Krippendorff's alpha, overall and per
    weak topic, and the most disputed videos (highest answer entropy, or posterior entropy for
    Dawid–Skene) with their answer counts."""
    answers = verdicts.answers
    counts = answers.counts()
    report = _agreement(answers, None)
    report["paired_videos"] = int((counts.sum(axis=1) >= 2).sum())
    names = np.array([name or "" for name in topic_per_item], dtype=object)
    codes_of, codes = np.unique(names, return_inverse=True)
    sizes = np.bincount(codes, minlength=codes_of.size)
    by_topic = {}
    for t, name in enumerate(codes_of):
        if not name:
            continue  # videos without a weak topic (open-world datasets) have no topic to report
        mask = codes == t
        by_topic[str(name)] = {"videos": int(sizes[t]), **_agreement(answers, mask)}
    report["by_topic"] = by_topic
    report["disputed"] = [
        {
            "video": int(answers.items[d.item]),
            "entropy": round(d.entropy, 4),
            "answers": d.answers,
            "counts": {str(c): n for c, n in zip(answers.classes, d.counts, strict=True) if n},
        }
        for d in most_disputed(answers, DISPUTED_LISTED, verdicts.posterior)
    ]
    return report

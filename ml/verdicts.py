"""Answers → verdicts: the one home of USV's rule, the `auto` choice and the verdict vocabulary.

Every path that turns answers into verdicts calls this module: the live per-task preview
(annotator, `Task.verdict`), the per-video verdicts of an aggregation run (curation,
`VideoVerdict`) and `aggregate_file`. Majority vote and Dawid–Skene are in `ml.aggregate`;
this module reads their labels in the verdict vocabulary.

Topic verification (USV Stage IV): two annotators; two No ⇒ the video is label noise; one Yes
and one No ⇒ disagreement (the video stays; a dataset may ask a third worker). With more
answers a No verdict needs at least two No and more No than Yes, and Yes needs more Yes than
No and more Yes than "can't tell"; anything else ("can't tell" alone or beside one Yes, a lone
No) is unsure. An item with fewer answers than it
needs (its task's overlap) is `pending`: not judged, so in no count and no estimate — one early
Yes is not a verified video and one early No cannot make noise. A gold item takes its known
answer.

Choosing the method ("auto"): the issue's simulation (250,000 videos, 200 workers of 60–95 %
accuracy, 21.7 % noise) and ours (bench/bench_aggregate.py; 50,000 items × 3 seeds) agree that
with two answers per item majority vote beats Dawid–Skene (0.875–0.882 vs 0.86–0.87): two
answers cannot identify 200 confusion matrices. From three answers per item Dawid–Skene wins
(0.91 vs 0.875 at three, 0.95 vs 0.925 at five). Below three, topic answers take USV's rule —
majority vote's verdicts, except that a 1–1 split is a disagreement instead of a tie broken by a
rule (the paper's own procedure) — and other labels take majority vote.
"""

from collections import Counter
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import numpy as np

from ml.aggregate import (
    NO_GOLD,
    Aggregation,
    AggregationError,
    Answers,
    dawid_skene,
    majority_vote,
    negative_class,
)
from ml.vocabulary import (  # noqa: F401 (the vocabulary's names, for callers of this module)
    DIFFERS,
    DISAGREEMENT,
    MATCHES_TRUTH,
    METHODS,
    NO,
    NOISE,
    PENDING,
    THUMBNAIL_VERDICTS,
    TOPIC_ANSWERS,
    TOPIC_VERDICTS,
    UNSURE,
    UNSURE_ANSWER,
    VERIFIED,
    YES,
)

DS_FROM_ANSWERS_PER_ITEM = 3.0
_OUTCOME_OF_ANSWER = {YES: 0, NO: 1, UNSURE_ANSWER: 3}  # an answer's outcome index


@dataclass(frozen=True)
class Verdicts:
    """Per item (in `answers.items` order). `code` indexes TOPIC_VERDICTS, or is None when the
    labels are not topic answers; `reference` is the class the verdict stands for (NO_GOLD for
    pending items, disagreements and an unsure verdict without an unsure class)."""

    answers: Answers
    method: str
    reason: str
    code: np.ndarray | None
    reference: np.ndarray
    confidence: np.ndarray
    answers_used: np.ndarray
    pending: np.ndarray
    from_gold: np.ndarray
    aggregation: Aggregation | None = None

    posterior = property(lambda self: self.aggregation.posterior if self.aggregation else None)
    confusion = property(lambda self: self.aggregation.confusion if self.aggregation else None)
    iterations = property(lambda self: self.aggregation.iterations if self.aggregation else 0)
    converged = property(lambda self: self.aggregation.converged if self.aggregation else True)

    def labels(self) -> list[str]:
        return [TOPIC_VERDICTS[c] for c in self.code.tolist()]


def topic_answers(classes: Sequence, negative: Hashable | None = None, *, usv: bool = False) -> tuple | None:
    """Each class read as a topic answer (yes/no/unsure), or None when the labels are not topic
    answers. yes/no/unsure are read as themselves; with a named negative (or for USV's rule,
    which needs one) two labels are No and Yes, as `ml.aggregate.negative_class` finds them."""
    names = [str(c).strip().lower() for c in classes]
    if set(names) <= set(TOPIC_ANSWERS) and negative in (None, NO):
        return tuple(names)
    if negative is None and not usv:
        return None
    decided = [c for c, name in zip(classes, names, strict=True) if name != UNSURE_ANSWER]
    no = decided[negative_class(decided, negative)]
    return tuple(NO if c == no else UNSURE_ANSWER if c not in decided else YES for c in classes)


def method_choose(requested: str, answers: Answers, *, topic: bool, judged: np.ndarray, unit: str = "item"):
    """(method, why): per judged item (not pending), answers per item pick the method."""
    if requested not in METHODS:
        raise AggregationError(f"unknown aggregation method {requested!r} (use one of {', '.join(METHODS)})")
    used = np.bincount(answers.item, minlength=answers.n_items)
    per_item = used[judged].mean() if judged.any() else used.mean()
    if requested != "auto":
        return requested, f"asked for; {per_item:.1f} answers per {unit}"
    if per_item >= DS_FROM_ANSWERS_PER_ITEM:
        return "ds", f"auto: {per_item:.1f} answers per {unit}, Dawid–Skene wins from 3"
    if topic:
        return "usv", f"auto: {per_item:.1f} answers per {unit}, below 3 USV's rule (= majority vote) wins"
    return "mv", f"auto: {per_item:.1f} answers per {unit}, below 3 majority vote wins"


def _total(counts: np.ndarray, meaning: tuple, answer: str) -> np.ndarray:
    """Per item, the answers that mean `answer`."""
    return counts[:, [k for k, m in enumerate(meaning) if m == answer]].sum(axis=1)


def _usv(yes: np.ndarray, no: np.ndarray, unsure: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """USV's rule on answer counts: (outcome index, answers agreeing with it)."""
    noise = (no >= 2) & (no > yes)
    # Issue 17: "can't tell" is no confirmation; a Yes beside it does not verify the video.
    verified = ~noise & (yes > no) & (yes > unsure)
    tied = ~noise & ~verified & (yes == no) & (yes > 0)
    code = np.select([noise, verified, tied], [1, 0, 2], 3)
    return code, np.select([noise, verified, tied], [no, yes, yes], unsure)


def verdicts_decide(
    answers: Answers,
    requested: str = "auto",
    *,
    required: np.ndarray | int = 0,
    negative: Hashable | None = None,
    unit: str = "item",
) -> Verdicts:
    """Verdicts of every item under the requested method (or the `auto` choice).

    `required`: answers each item needs before it is judged (an int, or one per item); fewer
    make it pending, whatever the method. Gold items are never pending.
    """
    if requested not in METHODS:
        raise AggregationError(f"unknown aggregation method {requested!r} (use one of {', '.join(METHODS)})")
    counts = answers.counts()
    used = counts.sum(axis=1)
    from_gold = answers.gold != NO_GOLD
    pending = (used < np.broadcast_to(required, used.shape)) & ~from_gold
    meaning = topic_answers(answers.classes, negative, usv=requested == "usv")
    method, reason = method_choose(requested, answers, topic=meaning is not None, judged=~pending, unit=unit)
    aggregation = None
    if method == "usv":
        if meaning is None:
            raise AggregationError("USV's rule needs yes/no answers")
        code, agreeing = _usv(*(_total(counts, meaning, name) for name in TOPIC_ANSWERS))
        confidence = agreeing / np.maximum(used, 1)
    else:
        aggregation = majority_vote(answers) if method == "mv" else dawid_skene(answers)
        confidence = aggregation.confidence.astype(float)
        code = None
        if meaning is not None:
            code = np.array([_OUTCOME_OF_ANSWER[m] for m in meaning])[aggregation.label]
            if method == "mv":  # a Yes/No tie at the top is a disagreement, not a coin toss
                yes, no = _total(counts, meaning, YES), _total(counts, meaning, NO)
                top = counts.max(axis=1)
                code = np.where((yes == top) & (no == top) & (top > 0), 2, code)
    if meaning is None:
        reference = np.where(pending, NO_GOLD, aggregation.label)
    else:
        gold_codes = np.array([_OUTCOME_OF_ANSWER[m] for m in meaning])
        code = np.where(from_gold, gold_codes[np.maximum(answers.gold, 0)], code)
        code = np.where(pending, TOPIC_VERDICTS.index(PENDING), code).astype(np.int64)
        class_of = np.full(len(TOPIC_VERDICTS), NO_GOLD)
        for k, m in enumerate(meaning):
            class_of[_OUTCOME_OF_ANSWER[m]] = k
        reference = class_of[code]
    confidence = np.clip(np.where(from_gold, 1.0, np.where(pending, 0.0, confidence)), 0.0, 1.0)
    return Verdicts(
        answers, method, reason, code, reference, confidence, used, pending, from_gold, aggregation
    )


def topic_verdict(choices: Sequence[str], *, required: int = 1, gold: str = "") -> tuple[str, float | None]:
    """One task's verdict by USV's rule (`_usv`, as for a batch), and the share of its modal answer
    (None while pending). Counted here rather than through `verdicts_decide`: it runs on every
    answer the API takes, where building a batch of one cost 0.7 ms of a ~6 ms cycle."""
    if not choices:
        return PENDING, None
    counts = Counter(choices)
    if gold:
        verdict = TOPIC_VERDICTS[_OUTCOME_OF_ANSWER[gold]]
    elif len(choices) < required:
        return PENDING, None
    else:
        yes, no, unsure = (np.array([counts[answer]]) for answer in TOPIC_ANSWERS)
        verdict = TOPIC_VERDICTS[int(_usv(yes, no, unsure)[0][0])]
    return verdict, max(counts.values()) / len(choices)


def thumbnail_verdict(
    frame_ids: Sequence[int], truth_frame_id: int | None, *, required: int = 1
) -> tuple[str, int | None, float | None]:
    """(verdict, picked frame, agreement): the plurality pick compared with the ground truth.

    A tie between picks is a disagreement and picks no frame.
    """
    if not frame_ids or len(frame_ids) < required:
        return PENDING, None, None
    ranked = Counter(frame_ids).most_common()
    agreement = ranked[0][1] / len(frame_ids)
    if len(ranked) > 1 and ranked[0][1] == ranked[1][1]:
        return DISAGREEMENT, None, agreement
    picked = ranked[0][0]
    if truth_frame_id is None:
        return DIFFERS, picked, agreement
    return (MATCHES_TRUTH if picked == truth_frame_id else DIFFERS), picked, agreement

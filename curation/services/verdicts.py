"""Answers → per-video verdicts in the database: one aggregation run, its verdicts, noise estimates.

The annotator app hands its topic-verification answers over as plain rows (curation never
imports it); answers imported from elsewhere (`ExternalAnswer`) join them, their worker keys
prefixed `ext:` so an outside worker id can never be taken for one of ours (`user:<id>`).

Choosing the method ("auto"): the issue's simulation (250,000 videos, 200 workers of 60–95 %
accuracy, 21.7 % noise) and ours (bench/bench_aggregate.py; 50,000 items × 3 seeds) agree that
with two answers per video majority vote beats Dawid–Skene (0.875–0.882 vs 0.86–0.87): two
answers cannot identify 200 confusion matrices. From three answers per video Dawid–Skene wins
(0.91 vs 0.875 at three, 0.95 vs 0.925 at five). Below three, "auto" takes USV's rule: on yes/no
answers its verdicts are majority vote's, except that a 1–1 split is called a disagreement
instead of being broken by a tie rule — the paper's own procedure (Stage IV).

Verdicts for topic verification: verified (the aggregated answer is Yes), noise (No; under USV's
rule at least two No and more No than Yes), disagreement (Yes and No tied, for USV's rule and
majority vote), unsure otherwise. A gold video takes its known answer.
"""

import time
from array import array
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

import numpy as np
from django.db import transaction

from curation.errors import CurationError
from curation.models import AggregationRun, Dataset, ExternalAnswer, Topic, Video
from curation.services.aggregate import DS_FROM_ANSWERS_PER_ITEM
from curation.services.verdicts_report import agreement_report, worker_quality_report
from curation.services.verdicts_store import verdicts_write
from ml.aggregate import NO_GOLD, AggregationError, Answers, dawid_skene, encode_answers, majority_vote

ANSWER_LABELS = ("yes", "no", "unsure")
METHODS = ("auto", "usv", "mv", "ds")
EXTERNAL_PREFIX = "ext:"
# Verdict codes, in this order everywhere (arrays hold the index).
VERDICTS = ("verified", "noise", "disagreement", "unsure")
VERIFIED, NOISE, DISAGREEMENT, UNSURE = range(4)
_FROM_ANSWER = {"yes": VERIFIED, "no": NOISE, "unsure": UNSURE}

Row = tuple[int, str, str, str]  # (video id, worker key, yes/no/unsure, gold label or "")


class VerdictError(CurationError):
    """The answers cannot be turned into verdicts; the message names the video or worker."""


@dataclass
class VerdictsSummary:
    run_id: int
    method: str
    requested: str
    reason: str
    items: int
    answers: int
    workers: int
    excluded_workers: int
    gold_items: int
    external_answers: int
    verdicts: dict = field(default_factory=dict)
    estimates: list = field(default_factory=list)
    seconds: float = 0.0

    def __str__(self) -> str:
        counts = ", ".join(f"{label} {self.verdicts.get(label, 0)}" for label in VERDICTS)
        return (
            f"method {self.method} ({self.reason}); {self.items} videos from {self.answers} answers by "
            f"{self.workers} workers ({self.external_answers} answers imported, {self.gold_items} gold "
            f"videos, {self.excluded_workers} workers excluded); verdicts: {counts}"
        )


@dataclass(frozen=True)
class Verdicts:
    """Per item (in `answers.items` order): verdict code, confidence, gold, and the ml result."""

    answers: Answers
    method: str
    code: np.ndarray
    confidence: np.ndarray
    from_gold: np.ndarray
    reference: np.ndarray  # class index each verdict stands for (NO_GOLD for disagreement)
    posterior: np.ndarray | None
    confusion: np.ndarray | None
    iterations: int
    converged: bool


@dataclass
class _Collected:
    """Answers as compact columns (250,000 videos × 2 answers: a few MB, not lists of strings)."""

    videos: array = field(default_factory=lambda: array("q"))
    workers: array = field(default_factory=lambda: array("q"))  # index into `keys`
    labels: array = field(default_factory=lambda: array("b"))  # index into ANSWER_LABELS
    keys: dict = field(default_factory=dict)  # worker key → code
    gold: dict = field(default_factory=dict)  # video id → known answer
    external: int = 0


_LABEL_CODES = {label: code for code, label in enumerate(ANSWER_LABELS)}


def _collect(dataset: Dataset, rows: Iterable[Row]) -> _Collected:
    """Our rows and the dataset's imported answers, checked; gold per video."""
    got = _Collected()
    gold, keys = got.gold, got.keys

    def add(video_id: int, worker: str, label: str, known: str) -> None:
        code = _LABEL_CODES.get(label)
        if code is None:
            raise VerdictError(f"video {video_id}: answer {label!r} of worker {worker} is not yes/no/unsure")
        if known:
            if known not in _LABEL_CODES:
                raise VerdictError(f"video {video_id}: gold answer {known!r} is not yes/no/unsure")
            if gold.setdefault(video_id, known) != known:
                raise VerdictError(
                    f"video {video_id}: gold answers {gold[video_id]!r} and {known!r} disagree"
                )
        got.videos.append(video_id)
        got.workers.append(keys.setdefault(worker, len(keys)))
        got.labels.append(code)

    for video_id, worker, label, known in rows:
        if not worker or worker.startswith(EXTERNAL_PREFIX):
            raise VerdictError(
                f"video {video_id}: worker key {worker!r} is empty or uses the prefix "
                f"{EXTERNAL_PREFIX!r} reserved for imported answers"
            )
        add(int(video_id), worker, label, known or "")
    imported = ExternalAnswer.objects.filter(dataset=dataset).values_list(
        "video_id", "worker", "label", "gold"
    )
    for video_id, worker, label, known in imported.iterator(chunk_size=10_000):
        add(video_id, EXTERNAL_PREFIX + worker, label, known)
        got.external += 1
    return got


def _encode(got: _Collected) -> Answers:
    """Answers ordered by video id, so per-topic agreement re-sorts already sorted data."""
    videos = np.frombuffer(got.videos, dtype=np.int64)
    order = np.argsort(videos, kind="stable")
    names = list(got.keys)
    try:
        answers = encode_answers(
            videos[order].tolist(),
            np.frombuffer(got.workers, dtype=np.int64)[order].tolist(),
            [ANSWER_LABELS[c] for c in np.frombuffer(got.labels, dtype=np.int8)[order].tolist()],
            got.gold,
        )
    except AggregationError as exc:
        raise VerdictError(str(exc)) from None
    answers = replace(answers, workers=tuple(names[code] for code in answers.workers))
    key = answers.item * len(answers.workers) + answers.worker
    unique, first, counts = np.unique(key, return_index=True, return_counts=True)
    if unique.size != key.size:
        twice = first[np.flatnonzero(counts > 1)[0]]
        raise VerdictError(
            f"video {answers.items[answers.item[twice]]}: worker {answers.workers[answers.worker[twice]]} "
            "answered it twice; a worker's second answer is a data error, not an extra vote"
        )
    return answers


def _topics(dataset: Dataset, answers: Answers) -> list[str | None]:
    """Each answered video's weak topic name, read as a stream of ids (no 250,000-entry dict)."""
    names = dict(Topic.objects.filter(dataset=dataset).values_list("id", "name"))
    videos = Video.objects.filter(dataset=dataset).order_by("id").values_list("id", "weak_topic_id")
    ids, topic_ids = array("q"), array("q")
    for video_id, topic_id in videos.iterator(chunk_size=20_000):
        ids.append(video_id)
        topic_ids.append(topic_id or 0)
    ids_np, topics_np = np.frombuffer(ids, dtype=np.int64), np.frombuffer(topic_ids, dtype=np.int64)
    where = np.searchsorted(ids_np, np.asarray(answers.items, dtype=np.int64))
    return [names.get(t) for t in topics_np[np.minimum(where, max(ids_np.size - 1, 0))].tolist()]


def method_choose(requested: str, answers: Answers) -> tuple[str, str]:
    """(method, why) — see the module docstring for the evidence behind the threshold."""
    per_item = answers.item.size / max(answers.n_items, 1)
    if requested != "auto":
        return requested, f"asked for; {per_item:.1f} answers per video"
    if per_item >= DS_FROM_ANSWERS_PER_ITEM:
        return "ds", f"auto: {per_item:.1f} answers per video, Dawid–Skene wins from 3"
    return "usv", f"auto: {per_item:.1f} answers per video, below 3 USV's rule (= majority vote) wins"


def _column(counts: np.ndarray, classes: tuple, name: str) -> np.ndarray:
    return counts[:, classes.index(name)] if name in classes else np.zeros(counts.shape[0], dtype=np.int64)


def verdicts_compute(answers: Answers, method: str) -> Verdicts:
    """Verdict codes per item under one method (pure: no database)."""
    counts = answers.counts()
    used = np.maximum(counts.sum(axis=1), 1)
    yes, no = _column(counts, answers.classes, "yes"), _column(counts, answers.classes, "no")
    unsure = _column(counts, answers.classes, "unsure")
    posterior = confusion = None
    iterations, converged = 0, True
    if method == "usv":
        # annotator.verdicts.topic_verdict, vectorised; ml.usv_rule is the same rule for yes/no
        # answers only, and these may hold "can't tell".
        noise = (no >= 2) & (no > yes)
        verified = ~noise & (yes > no)
        tied = ~noise & ~verified & (yes == no) & (yes > 0)
        code = np.select([noise, verified, tied], [NOISE, VERIFIED, DISAGREEMENT], UNSURE)
        agreeing = np.select([noise, verified, tied], [no, yes, yes], unsure)
        confidence = agreeing / used
    elif method in ("mv", "ds"):
        result = majority_vote(answers) if method == "mv" else dawid_skene(answers)
        to_code = np.array([_FROM_ANSWER[c] for c in answers.classes])
        code = to_code[result.label]
        confidence = result.confidence.astype(float)
        if method == "mv":  # a Yes/No tie at the top is a disagreement, not a coin toss
            top = counts.max(axis=1)
            tied = (yes == top) & (no == top) & (top > 0)
            code = np.where(tied, DISAGREEMENT, code)
        posterior, confusion = result.posterior, result.confusion
        iterations, converged = result.iterations, result.converged
    else:
        raise VerdictError(f"unknown aggregation method {method!r} (use one of {', '.join(METHODS)})")
    from_gold = answers.gold != NO_GOLD
    gold_codes = np.array([_FROM_ANSWER[c] for c in answers.classes])
    code = np.where(from_gold, gold_codes[np.maximum(answers.gold, 0)], code)
    confidence = np.where(from_gold, 1.0, confidence)
    by_code = np.full(len(VERDICTS), NO_GOLD)
    for name, verdict in _FROM_ANSWER.items():
        if name in answers.classes:
            by_code[verdict] = answers.classes.index(name)
    return Verdicts(
        answers, method, code.astype(np.int64), np.clip(confidence, 0.0, 1.0), from_gold,
        by_code[code], posterior, confusion, iterations, converged,
    )  # fmt: skip


def verdicts_aggregate(
    *, dataset: Dataset, rows: Iterable[Row], method: str = "auto", excluded_workers: int = 0
) -> VerdictsSummary:
    """Aggregate the dataset's answers (our rows + imported ones) into one run's verdicts.

    All in one transaction, the dataset row locked so two aggregations never interleave: the
    run, every video's verdict for this method (upserted; verdicts of videos that no longer have
    answers are removed, so the method's verdicts are exactly this run's), then noise estimates.
    A failure leaves the previous verdicts as they were.
    """
    from curation.services.noise import noise_estimates_record  # noise reads what this writes

    if method not in METHODS:
        raise VerdictError(f"unknown aggregation method {method!r} (use one of {', '.join(METHODS)})")
    started = time.perf_counter()
    with transaction.atomic():
        Dataset.objects.select_for_update().filter(id=dataset.id).first()
        collected = _collect(dataset, rows)
        if not collected.videos:
            raise VerdictError(
                f"dataset {dataset.slug} has no topic answers to aggregate (none collected or imported)"
            )
        answers = _encode(collected)
        external = collected.external
        del collected
        chosen, reason = method_choose(method, answers)
        verdicts = verdicts_compute(answers, chosen)
        run = AggregationRun.objects.create(
            dataset=dataset,
            method=chosen,
            requested=method,
            items=answers.n_items,
            answers=int(answers.item.size),
            workers=len(answers.workers),
            excluded_workers=excluded_workers,
            classes=list(answers.classes),
            worker_quality=worker_quality_report(verdicts),
            agreement=agreement_report(verdicts, _topics(dataset, answers)),
            iterations=verdicts.iterations,
            converged=verdicts.converged,
        )
        verdicts_write(run=run, verdicts=verdicts, labels=VERDICTS)
        estimates = noise_estimates_record(dataset=dataset, method=chosen, run=run)
        seconds = time.perf_counter() - started
        AggregationRun.objects.filter(id=run.id).update(seconds=seconds)
    tally = np.bincount(verdicts.code, minlength=len(VERDICTS))
    return VerdictsSummary(
        run_id=run.id,
        method=chosen,
        requested=method,
        reason=reason,
        items=answers.n_items,
        answers=int(answers.item.size),
        workers=len(answers.workers),
        excluded_workers=excluded_workers,
        gold_items=int(verdicts.from_gold.sum()),
        external_answers=external,
        verdicts={label: int(n) for label, n in zip(VERDICTS, tally, strict=True)},
        estimates=estimates,
        seconds=seconds,
    )

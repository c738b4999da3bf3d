"""Answers → per-video verdicts in the database: one aggregation run, its verdicts, noise estimates.

The annotator app hands its topic-verification answers over as plain rows (curation never
imports it); answers imported from elsewhere (`ExternalAnswer`) join them, their worker keys
prefixed `ext:` so an outside worker id can never be taken for one of ours (`user:<id>`).

Which method, what a verdict means and when a video is still `pending` (fewer answers than it
needs: its task's overlap, else the dataset's) are decided in `ml.verdicts`, the one home of the
rule that the live per-task preview and `aggregate_file` use too.
"""

import time
from array import array
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

import numpy as np
from django.db import transaction

from curation.errors import CurationError
from curation.models import AggregationRun, Dataset, ExternalAnswer, Topic, Video
from curation.services.labels.report import agreement_report, worker_quality_report
from curation.services.labels.store import verdicts_write
from ml.aggregate import AggregationError, Answers, encode_answers
from ml.verdicts import METHODS, TOPIC_ANSWERS, TOPIC_VERDICTS, verdicts_decide

ANSWER_LABELS = TOPIC_ANSWERS
EXTERNAL_PREFIX = "ext:"

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
        counts = ", ".join(f"{label} {self.verdicts.get(label, 0)}" for label in TOPIC_VERDICTS)
        return (
            f"method {self.method} ({self.reason}); {self.items} videos from {self.answers} answers by "
            f"{self.workers} workers ({self.external_answers} answers imported, {self.gold_items} gold "
            f"videos, {self.excluded_workers} workers excluded); verdicts: {counts}"
        )


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


def _required(dataset: Dataset, answers: Answers, required: Mapping[int, int] | None) -> np.ndarray:
    """Answers each answered video needs: the dataset's overlap unless `required` says otherwise."""
    needed = np.full(answers.n_items, dataset.annotation_overlap, dtype=np.int64)
    if required:
        items = np.asarray(answers.items, dtype=np.int64)  # sorted: _encode orders by video id
        ids = np.fromiter(required.keys(), np.int64, len(required))
        where = np.minimum(np.searchsorted(items, ids), max(items.size - 1, 0))
        found = items[where] == ids
        needed[where[found]] = np.fromiter(required.values(), np.int64, len(required))[found]
    return needed


def verdicts_aggregate(
    *,
    dataset: Dataset,
    rows: Iterable[Row],
    method: str = "auto",
    excluded_workers: int = 0,
    required: Mapping[int, int] | None = None,
    selection: Mapping[int, str] | None = None,
) -> VerdictsSummary:
    """Aggregate the dataset's answers (our rows + imported ones) into one run's verdicts.

    `required`: answers a video needs before it is judged, where that differs from the dataset's
    overlap (a gold video needs none, an escalated disagreement one more); fewer ⇒ `pending`.
    `selection`: video id → the non-random verification order that chose it (noise estimates
    over such videos are biased; see noise.py).

    All in one transaction, the dataset row locked so two aggregations never interleave: the
    run, every video's verdict for this method (upserted; verdicts of videos that no longer have
    answers are removed, so the method's verdicts are exactly this run's), then noise estimates.
    A failure leaves the previous verdicts as they were.
    """
    from curation.services.labels.noise import noise_estimates_record  # noise reads what this writes

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
        try:
            verdicts = verdicts_decide(
                answers, method, required=_required(dataset, answers, required), unit="video"
            )
        except AggregationError as exc:
            raise VerdictError(str(exc)) from None
        chosen, reason = verdicts.method, verdicts.reason
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
        verdicts_write(run=run, verdicts=verdicts, labels=TOPIC_VERDICTS)
        estimates = noise_estimates_record(dataset=dataset, method=chosen, run=run, selection=selection)
        seconds = time.perf_counter() - started
        AggregationRun.objects.filter(id=run.id).update(seconds=seconds)
    tally = np.bincount(verdicts.code, minlength=len(TOPIC_VERDICTS))
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
        verdicts={label: int(n) for label, n in zip(TOPIC_VERDICTS, tally, strict=True)},
        estimates=estimates,
        seconds=seconds,
    )

"""Writing one run's verdicts set-based (the statements are curation.sql.labels), inside the
caller's transaction.

A verdict that did not change is left as it is, so `VideoVerdict.run` is the run that last
changed it; the method's verdicts are still exactly the latest run's videos — those it did not
judge are deleted."""

import json
from collections.abc import Iterator

import numpy as np

from curation.errors import CurationError
from curation.models import AggregationRun
from curation.sql.labels import verdicts_upsert

MISSING_LISTED = 5


class VerdictStoreError(CurationError):
    pass


def _rows(verdicts, labels: tuple) -> Iterator[tuple]:
    """One tuple per verdict in curation.sql.labels.COLUMNS order, made as they are written (a list
    of 250,000 would cost ~30 MB)."""
    answers = verdicts.answers
    counts = answers.counts()
    used = counts.sum(axis=1)
    disputed = counts.max(axis=1) < used
    classes = answers.classes
    # Few distinct count patterns (two answers: three or six): format each one's JSON once.
    pattern = (counts * (np.int64(1) << (20 * np.arange(counts.shape[1])))).sum(axis=1)
    first = dict(zip(pattern.tolist(), range(pattern.size), strict=False))
    documents = {
        key: json.dumps({str(c): int(n) for c, n in zip(classes, counts[i], strict=True) if n})
        for key, i in first.items()
    }
    columns = zip(
        answers.items,
        verdicts.code.tolist(),
        verdicts.confidence.tolist(),
        used.tolist(),
        pattern.tolist(),
        disputed.tolist(),
        verdicts.from_gold.tolist(),
        strict=True,
    )
    for video_id, code, confidence, n, key, split, gold in columns:
        yield int(video_id), labels[code], confidence, n, documents[key], split, gold


def verdicts_write(*, run: AggregationRun, verdicts, labels: tuple) -> int:
    """Upsert a verdict per answered video for the run's method; drop the method's older verdicts
    of videos this run did not judge. Refuses videos of another dataset."""
    foreign = verdicts_upsert(
        dataset_id=run.dataset_id, run_id=run.id, method=run.method, rows=_rows(verdicts, labels)
    )
    if foreign:
        raise VerdictStoreError(
            f"{len(foreign)} answered video(s) are not in dataset {run.dataset.slug}: "
            f"{', '.join(map(str, foreign[:MISSING_LISTED]))}"
        )
    return verdicts.answers.n_items

"""Writing one run's verdicts set-based: COPY into a temporary table and one INSERT … ON CONFLICT
DO UPDATE (250,000 verdicts in a few statements). Runs inside the caller's transaction.

A verdict that did not change is left as it is, so `VideoVerdict.run` is the run that last
changed it; the method's verdicts are still exactly the latest run's videos — those it did not
judge are deleted."""

import json
from collections.abc import Iterator

import numpy as np
from django.db import connection

from curation.errors import CurationError
from curation.models import AggregationRun, Video, VideoVerdict

TEMP = "microcurate_verdict_batch"
COLUMNS = ("video_id", "label", "confidence", "answers_used", "answers", "disputed", "from_gold")
MISSING_LISTED = 5


class VerdictStoreError(CurationError):
    pass


def _rows(verdicts, labels: tuple) -> Iterator[tuple]:
    """One tuple per verdict, made as they are written (a list of 250,000 would cost ~30 MB)."""
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
    rows = _rows(verdicts, labels)
    count = verdicts.answers.n_items
    table, video = VideoVerdict._meta.db_table, Video._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            # The primary key matters: deleting the verdicts of videos no longer answered probes it
            # once per stored verdict. Without it, and with the verdict table's statistics taken
            # before this dataset's 250,000 rows went in, PostgreSQL chose a nested loop that read
            # the whole temporary table per verdict (ran for over 8 minutes).
            f"CREATE TEMP TABLE IF NOT EXISTS {TEMP} (video_id bigint PRIMARY KEY, label text, "
            "confidence float8, answers_used integer, answers jsonb, disputed boolean, from_gold boolean)"
        )
        cursor.execute(f"TRUNCATE {TEMP}")
        with cursor.cursor.copy(f"COPY {TEMP} ({', '.join(COLUMNS)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        cursor.execute(f"ANALYZE {TEMP}")  # temporary tables get no statistics otherwise
        cursor.execute(
            f"SELECT t.video_id FROM {TEMP} t LEFT JOIN {video} v ON v.id = t.video_id "
            "AND v.dataset_id = %s WHERE v.id IS NULL ORDER BY t.video_id",
            [run.dataset_id],
        )
        foreign = [str(r[0]) for r in cursor.fetchall()]
        if foreign:
            raise VerdictStoreError(
                f"{len(foreign)} answered video(s) are not in dataset {run.dataset.slug}: "
                f"{', '.join(foreign[:MISSING_LISTED])}"
            )
        # A verdict that did not change is not written again (a re-run after a few new answers
        # rewrites a few rows, not 250,000): its run stays the run that last changed it.
        values = ", ".join("t." + c for c in COLUMNS[1:])
        changed = " OR ".join(f"{table}.{c} IS DISTINCT FROM EXCLUDED.{c}" for c in COLUMNS[1:])
        cursor.execute(
            f"INSERT INTO {table} (video_id, dataset_id, run_id, method, {', '.join(COLUMNS[1:])}, "
            f"updated_at) SELECT t.video_id, %s, %s, %s, {values}, now() FROM {TEMP} t "
            "ON CONFLICT (video_id, method) DO UPDATE SET dataset_id = EXCLUDED.dataset_id, "
            "run_id = EXCLUDED.run_id, label = EXCLUDED.label, confidence = EXCLUDED.confidence, "
            "answers_used = EXCLUDED.answers_used, answers = EXCLUDED.answers, "
            "disputed = EXCLUDED.disputed, from_gold = EXCLUDED.from_gold, updated_at = EXCLUDED.updated_at "
            f"WHERE {changed}",
            [run.dataset_id, run.id, run.method],
        )
        cursor.execute(
            f"DELETE FROM {table} v WHERE v.dataset_id = %s AND v.method = %s "
            f"AND NOT EXISTS (SELECT 1 FROM {TEMP} t WHERE t.video_id = v.video_id)",
            [run.dataset_id, run.method],
        )
        cursor.execute(f"TRUNCATE {TEMP}")
    return count

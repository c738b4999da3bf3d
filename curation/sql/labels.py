"""The verdicts' SQL: one run's verdicts written set-based, COPY into a temporary table and one
INSERT … ON CONFLICT DO UPDATE (250,000 verdicts in a few statements), inside the caller's
transaction."""

from collections.abc import Iterable

from django.db import connection

from curation.models import Video, VideoVerdict

TEMP = "microcurate_verdict_batch"
# A verdict row, in this order: video id, then the verdict's own columns.
COLUMNS = ("video_id", "label", "confidence", "answers_used", "answers", "disputed", "from_gold")


def verdicts_upsert(*, dataset_id: int, run_id: int, method: str, rows: Iterable[tuple]) -> list[int]:
    """Upsert `rows` (tuples in COLUMNS order, `answers` as JSON text) as the method's verdicts of
    run `run_id`, leaving a verdict that did not change as it is (its run stays the run that last
    changed it), and delete the method's verdicts of the dataset's videos not in `rows`. Returns the
    videos of `rows` that are not in the dataset, in id order; when there are any, nothing is
    written."""
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
            [dataset_id],
        )
        foreign = [r[0] for r in cursor.fetchall()]
        if foreign:
            return foreign
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
            [dataset_id, run_id, method],
        )
        cursor.execute(
            f"DELETE FROM {table} v WHERE v.dataset_id = %s AND v.method = %s "
            f"AND NOT EXISTS (SELECT 1 FROM {TEMP} t WHERE t.video_id = v.video_id)",
            [dataset_id, method],
        )
        cursor.execute(f"TRUNCATE {TEMP}")
    return []

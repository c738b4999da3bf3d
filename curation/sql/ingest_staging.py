"""The ingest's general path: a batch of drafts goes into a temporary staging table in one
COPY, and a few statements over it store publishers and videos, the foreign-key triggers
checking every row. Used by roles that may not skip those triggers (the fast path, `ingest`'s
DirectStore, needs session_replication_role), and for a batch whose fast path lost a race with
another ingest.
"""

from django.db import connection
from django.utils import timezone

from curation.models import Publisher, Video
from curation.sql.ingest import Draft, NotStored, Stored


class Staging:
    """A per-connection temporary table holding one batch, and the statements over it."""

    TABLE = "microcurate_ingest_batch"

    def __init__(self, cursor, dataset_id: int):
        self.cursor = cursor
        self.dataset_id = dataset_id
        self.with_contents = False
        cursor.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {self.TABLE} (row integer PRIMARY KEY, external_id text, "
            "source text, source_kind text, local_path text, sha256 text, title text, clicks bigint, "
            "thumbnail text, metadata jsonb, topic_id bigint, publisher text, followers bigint)"
        )
        # Autovacuum never visits temporary tables: TRUNCATE leaves no dead rows behind.
        cursor.execute(f"TRUNCATE {self.TABLE}")

    def write(self, drafts: list[Draft], run_id: int) -> Stored:
        """Store one batch: its new video ids, and its rows not stored."""
        loaded = self.load(drafts)
        created = self.store(run_id)
        return Stored(list(created.values()), self.not_inserted(loaded, created))

    def load(self, drafts: list[Draft]) -> int:
        columns = ", ".join(Draft._fields)
        with self.cursor.cursor.copy(f"COPY {self.TABLE} ({columns}) FROM STDIN") as copy:
            for draft in drafts:
                copy.write_row(draft)
        self.with_contents = any(draft.sha256 for draft in drafts)
        return len(drafts)

    def _unknown(self, alias: str) -> str:
        """SQL: the staged row's id, and its file contents, are not in the dataset yet."""
        video = Video._meta.db_table
        clause = (
            f"NOT EXISTS (SELECT 1 FROM {video} v WHERE v.dataset_id = {int(self.dataset_id)} "
            f"AND v.external_id = {alias}.external_id)"
        )
        if self.with_contents:  # URL sources are hashed when downloaded, not here
            clause += (
                f" AND ({alias}.sha256 IS NULL OR NOT EXISTS (SELECT 1 FROM {video} v "
                f"WHERE v.dataset_id = {int(self.dataset_id)} AND v.sha256 = {alias}.sha256))"
            )
        return clause

    def store(self, run_id: int) -> dict[str, int]:
        """Publishers, then videos; returns external id → new video id."""
        self._store_publishers()
        return self._insert_videos(run_id)

    def _store_publishers(self) -> None:
        """New publishers only: one stored earlier keeps its follower count."""
        publisher = Publisher._meta.db_table
        self.cursor.execute(
            f"INSERT INTO {publisher} (dataset_id, external_id, followers) "
            f"SELECT %s, b.publisher, MAX(b.followers) FROM {self.TABLE} b WHERE b.publisher IS NOT NULL "
            f"AND NOT EXISTS (SELECT 1 FROM {publisher} p WHERE p.dataset_id = %s AND "
            f"p.external_id = b.publisher) AND {self._unknown('b')} GROUP BY b.publisher "
            "ON CONFLICT DO NOTHING",
            [self.dataset_id, self.dataset_id],
        )

    def _insert_videos(self, run_id: int) -> dict[str, int]:
        """Insert the staged rows; returns external id → new video id. A row whose id or
        contents the dataset holds is skipped by ON CONFLICT (see not_inserted for why)."""
        now = timezone.now()
        given = {
            "dataset_id": "%s", "external_id": "b.external_id", "source": "b.source",
            "source_kind": "b.source_kind", "local_path": "b.local_path", "sha256": "b.sha256",
            "title": "b.title", "clicks": "b.clicks", "thumbnail": "b.thumbnail",
            "metadata": "b.metadata", "weak_topic_id": "b.topic_id", "publisher_id": "p.id",
            "ingest_run_id": "%s", "created_at": "%s", "updated_at": "%s",
        }  # fmt: skip
        params = [self.dataset_id, run_id, now, now]
        # Every other column gets the model's default, so fields added later need no change here.
        rest = [f for f in Video._meta.concrete_fields if not f.primary_key and f.column not in given]
        columns = [*given, *(f.column for f in rest)]
        values = [*given.values(), *(["%s"] * len(rest))]
        params += [f.get_db_prep_save(f.get_default(), connection) for f in rest]
        self.cursor.execute(
            f"INSERT INTO {Video._meta.db_table} ({', '.join(columns)}) "
            f"SELECT {', '.join(values)} FROM {self.TABLE} b "
            f"LEFT JOIN {Publisher._meta.db_table} p ON p.dataset_id = %s AND p.external_id = b.publisher "
            "WHERE true ORDER BY b.row ON CONFLICT DO NOTHING RETURNING external_id, id",
            [*params, self.dataset_id],
        )
        return dict(self.cursor.fetchall())

    def not_inserted(self, loaded: int, created: dict[str, int]) -> list[NotStored]:
        """Each staged row that was not inserted, in row order: its id or contents were already in
        the dataset (stored earlier, by this run or by one that finished meanwhile)."""
        if len(created) == loaded:
            return []
        video, found = Video._meta.db_table, {}
        for by in ("sha256", "id") if self.with_contents else ("id",):
            column = "external_id" if by == "id" else "sha256"
            self.cursor.execute(
                f"SELECT b.row, b.external_id, v.external_id, v.ingest_run_id FROM {self.TABLE} b "
                f"JOIN {video} v ON v.dataset_id = %s AND v.{column} = b.{column}",
                [self.dataset_id],
            )
            for row, item, twin, twin_run in self.cursor.fetchall():
                if item not in created:
                    found[row] = (row, item, twin, twin_run, by)  # an id match wins
        if len(found) + len(created) < loaded:
            self.cursor.execute(f"SELECT row, external_id FROM {self.TABLE}")
            for row, item in self.cursor.fetchall():
                if item not in created and row not in found:
                    found[row] = (row, item, None, None, "")
        return [found[row] for row in sorted(found)]

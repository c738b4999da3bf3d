"""An ingest batch's SQL: the row shape (`Draft`), the fast path that copies a batch straight into
the video table (`DirectStore`), the look-ups of stored rows and the COPY text format. The staging
path, for roles that may not skip the foreign-key triggers, is `ingest_staging`.

The fast path is used when the role may set session_replication_role: the four foreign-key
triggers per row cost more than the insert itself (≈50 µs of ≈80 µs per row, measured). Publisher
ids come from a per-run cache, the referenced rows are locked FOR KEY SHARE once per batch (as the
triggers would), a missing one fails the batch, and the new rows go in with one COPY and no per-row
trigger. Measured against the staging path (COPY into a temporary table, then INSERT … SELECT …
ON CONFLICT), it halves the database's work per row.

A first ingest copies each batch straight away; when the unique indexes refuse one of its rows
(a re-run, a repeated id), the batch rolls back to a savepoint, the rows the dataset holds are
found with one indexed look-up, and the rest is copied; later batches look up first until one
finds nothing stored. If another ingest stores one of the same ids between look-up and COPY,
the batch rolls back again and the caller stores it through the staging path instead.
"""

import re
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

import orjson
import psycopg
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from curation.errors import ManifestError
from curation.models import Dataset, IngestRun, Publisher, Topic, Video


class Draft(NamedTuple):
    """One checked manifest row ready to store, in the column order of the staging table
    (`ingest_staging`). Made by services.ingest.rows."""

    row: int
    external_id: str
    source: str
    source_kind: str
    local_path: str
    sha256: str | None
    title: str
    clicks: int | None
    thumbnail: str
    metadata: str  # JSON text
    topic_id: int | None
    publisher: str | None
    followers: int | None


# A row of a batch that was not stored, as a plain tuple: (row, its id, the twin's id, the twin's
# ingest run, "id" | "sha256" | ""): the dataset holds its id (an id match wins) or its file's
# contents, or ("") another ingest stored the same id at the same time; twin and run are then None.
NotStored = tuple[int, str, str | None, int | None, str]


@dataclass(slots=True)
class Stored:
    """What one batch's write did: the ids of its new videos (only when asked for), and its rows
    not stored, in row order."""

    ids: list[int]
    not_stored: list[NotStored]


@dataclass(slots=True)
class StoredFile:
    """What the dataset holds for an id: where its video came from and its file's hash."""

    source: str
    local_path: str
    sha256: str | None


PUBLISHER_CACHE_LIMIT = 500_000
# In copy_line's order: the text columns first.
_FROM_DRAFT = (
    "external_id", "source", "source_kind", "local_path", "title", "thumbnail", "metadata",
    "sha256", "clicks",
)  # fmt: skip


class DirectStore:
    """One per ingest run; `write` stores one batch inside the caller's transaction."""

    def __init__(self, dataset_id: int, run_id: int):
        self.dataset_id = dataset_id
        self.run_id = run_id
        self.publishers: dict[str, int] = {}  # external id → id, for this dataset
        # Skip the look-up of stored rows while batches hold none (see the module's docstring).
        self.expect_new = True
        given = {*_FROM_DRAFT, "dataset_id", "weak_topic_id", "publisher_id", "ingest_run_id",
                 "created_at", "updated_at"}  # fmt: skip
        # Every other column gets the model's default, so fields added later need no change here.
        self.rest = [f for f in Video._meta.concrete_fields if not f.primary_key and f.column not in given]
        self.columns = [*_FROM_DRAFT, "weak_topic_id", "publisher_id", "dataset_id", "ingest_run_id",
                        "created_at", "updated_at", *(f.column for f in self.rest)]  # fmt: skip

    def write(
        self, cursor, drafts: list[Draft], *, want_ids: bool, lines: dict[int, str] | None = None
    ) -> Stored | None:
        """The batch's new video ids (only when `want_ids`) and its rows not stored (by "id" or
        "sha256"), or None when a concurrent ingest got in the way (nothing stored then).
        `lines`: row → copy_line(draft), when the parsing side made them (else made here)."""
        if not drafts:
            return Stored([], [])
        lines = lines or {d.row: copy_line(d) for d in drafts}
        if self.expect_new and self._copy(cursor, drafts, lines):
            return Stored(self._new_ids(cursor, drafts, want_ids), [])
        known = self._known(cursor, drafts)
        self.expect_new = not known
        fresh = [d for d in drafts if d.row not in known]
        if fresh and not self._copy(cursor, fresh, lines):
            return None
        return Stored(self._new_ids(cursor, fresh, want_ids), [known[row] for row in sorted(known)])

    def _copy(self, cursor, drafts: list[Draft], lines: dict[int, str]) -> bool:
        """Store `drafts` and their new publishers; False (and nothing stored) when the unique
        indexes refuse one of them: stored meanwhile, or already, when the look-up was skipped."""
        added: list[str] = []
        now = timezone.now()
        fixed = (self.dataset_id, self.run_id, now, now, *(_copy_value(f) for f in self.rest))
        suffix = "\t" + "\t".join(map(_copy_text, fixed)) + "\n"
        try:
            with transaction.atomic():  # a savepoint: a refused batch undoes only its own rows
                self._lock_run(cursor)
                # From here no foreign-key trigger runs: _lock_references does their work.
                cursor.execute("SET LOCAL session_replication_role = replica")
                added, created = self._publishers(cursor, drafts)
                publishers = self.publishers
                self._lock_references(cursor, drafts, created)
                sql = f"COPY {Video._meta.db_table} ({', '.join(self.columns)}) FROM STDIN"
                payload = "".join(
                    f"{lines[d.row]}{publishers[d.publisher] if d.publisher else _NULL}{suffix}"
                    for d in drafts
                )
                with cursor.cursor.copy(sql) as copy:
                    copy.write(payload)
                cursor.execute("SET LOCAL session_replication_role = origin")
        except (IntegrityError, psycopg.IntegrityError):  # COPY bypasses Django's error wrapping
            for name in added:  # their rows were rolled back too
                self.publishers.pop(name, None)
            return False
        return True

    def _new_ids(self, cursor, drafts: list[Draft], want_ids: bool) -> list[int]:
        if not want_ids or not drafts:
            return []
        cursor.execute(
            lookup_sql(Video._meta.db_table, "id", "external_id", "AND ingest_run_id = %s") + " ORDER BY id",
            [_json([d.external_id for d in drafts]), self.dataset_id, self.run_id],
        )
        return [row[0] for row in cursor.fetchall()]

    def _known(self, cursor, drafts: list[Draft]) -> dict[int, NotStored]:
        """Rows whose id, or else whose file contents, the dataset already holds."""
        video, found = Video._meta.db_table, {}
        hashes = {d.sha256: d for d in drafts if d.sha256}
        if hashes:
            cursor.execute(
                lookup_sql(video, "sha256, external_id, ingest_run_id", "sha256"),
                [_json(list(hashes)), self.dataset_id],
            )
            for sha, twin, twin_run in cursor.fetchall():
                d = hashes[sha]
                found[d.row] = (d.row, d.external_id, twin, twin_run, "sha256")
        by_id = {d.external_id: d for d in drafts}
        cursor.execute(
            lookup_sql(video, "external_id, ingest_run_id", "external_id"),
            [_json(list(by_id)), self.dataset_id],
        )
        for item, twin_run in cursor.fetchall():
            d = by_id[item]
            found[d.row] = (d.row, item, item, twin_run, "id")  # an id match wins
        return found

    def _publishers(self, cursor, drafts: list[Draft]) -> tuple[list[str], set[int]]:
        """Store the batch's new publishers and cache the id of each one it names; returns the
        names it added to the cache and the ids of the publishers it created."""
        followers = self._uncached(drafts)
        if followers and len(self.publishers) + len(followers) > PUBLISHER_CACHE_LIMIT:
            self.publishers.clear()  # bounded memory on manifests with millions of uploaders
            followers = self._uncached(drafts)
        if not followers:
            return [], set()
        table = Publisher._meta.db_table
        # New publishers only (ON CONFLICT DO NOTHING): one stored earlier keeps its count.
        cursor.execute(
            f"INSERT INTO {table} (dataset_id, external_id, followers) SELECT %s, new->>0, "
            "(new->>1)::bigint FROM jsonb_array_elements(%s::jsonb) AS new ON CONFLICT DO NOTHING "
            "RETURNING external_id, id",
            [self.dataset_id, _json(list(followers.items()))],
        )
        created = dict(cursor.fetchall())
        self.publishers.update(created)
        if len(created) < len(followers):
            cursor.execute(
                lookup_sql(table, "external_id, id", "external_id"),
                [_json([name for name in followers if name not in created]), self.dataset_id],
            )
            self.publishers.update(cursor.fetchall())
        return list(followers), set(created.values())

    def _uncached(self, drafts: list[Draft]) -> dict[str, int | None]:
        """Publishers of `drafts` not in the cache → the largest follower count given."""
        followers: dict[str, int | None] = {}
        for d in drafts:
            if d.publisher and d.publisher not in self.publishers:
                seen = followers.get(d.publisher)
                followers[d.publisher] = d.followers if seen is None else max(seen, d.followers or 0)
        return followers

    def _lock_run(self, cursor) -> None:
        for model, key in ((Dataset, self.dataset_id), (IngestRun, self.run_id)):
            cursor.execute(f"SELECT id FROM {model._meta.db_table} WHERE id = %s FOR KEY SHARE", [key])
            if cursor.fetchone() is None:
                raise ManifestError(f"{model._meta.verbose_name} {key} was deleted during the ingest")

    def _lock_references(self, cursor, drafts: list[Draft], created: set[int]) -> None:
        """What the foreign-key triggers would do, once per batch instead of once per row.
        Publishers this transaction created need no lock: no one else sees them yet."""
        for model, ids, what in (
            (Topic, {d.topic_id for d in drafts if d.topic_id}, "a topic"),
            (
                Publisher,
                {self.publishers[d.publisher] for d in drafts if d.publisher} - created,
                "a publisher",
            ),
        ):
            if not ids:
                continue
            cursor.execute(
                f"SELECT id FROM {model._meta.db_table} WHERE id = ANY(%s::bigint[]) FOR KEY SHARE",
                ["{" + orjson.dumps(list(ids))[1:-1].decode() + "}"],  # an array literal
            )
            if len(cursor.fetchall()) < len(ids):
                raise ManifestError(
                    f"{what} of this batch was deleted during the ingest; run the ingest again"
                )


# Lists go to the server as one JSON text each: psycopg adapts a Python list element by element
# (≈ 3 µs each), orjson writes 5,000 names in under a millisecond.


def lookup_sql(table: str, columns: str, key: str, extra: str = "") -> str:
    """Rows of one dataset whose `key` is in a JSON list (parameters: the list, the dataset id, then
    those of `extra`). One probe of the unique (dataset_id, key) index per value, forced by the
    LATERAL join: with `key = ANY(array)` and the statistics of a table analysed before this dataset
    grew (autovacuum is slow or off), PostgreSQL scanned the whole dataset and compared each row
    with all 5,000 values — 14 s per batch on a 100,000-video re-run instead of milliseconds."""
    return (
        f"SELECT found.* FROM jsonb_array_elements_text(%s::jsonb) AS wanted(value) CROSS JOIN LATERAL "
        f"(SELECT {columns} FROM {table} WHERE dataset_id = %s AND {key} = wanted.value {extra}) AS found"
    )


def _json(values: list) -> str:
    return orjson.dumps(values).decode()


def stored_files(*, dataset_id: int, external_ids: list[str]) -> dict[str, StoredFile]:
    """What the dataset holds for each of these ids that it holds."""
    with connection.cursor() as cursor:
        cursor.execute(
            lookup_sql(Video._meta.db_table, "external_id, source, local_path, sha256", "external_id"),
            [_json(external_ids), dataset_id],
        )
        found = cursor.fetchall()
    return {item: StoredFile(source, local_path, sha256) for item, source, local_path, sha256 in found}


def commit_without_flush(cursor) -> None:
    """For the rest of this transaction: its commit does not wait for the WAL to reach the disk.
    After a crash the last batches reported stored may be missing, and a re-run stores them (an
    ingest is idempotent)."""
    cursor.execute("SET LOCAL synchronous_commit = off")


# COPY's text format: backslash escapes for the characters that separate fields and rows.
_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_NEEDS_ESCAPE = re.compile(r"[\\\n\r]")
_NULL = "\\N"


def _copy_text(value) -> str:
    if value is None:
        return _NULL
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, str):
        return value.translate(_ESCAPES)
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def copy_line(d: Draft) -> str:
    """A draft's leading COPY columns (up to its publisher id, which the writer knows)."""
    # Once per row: the text columns are joined first and escaped one by one only when the
    # joined line shows a tab too many, a backslash or a line break (rare in manifests).
    text = "\t".join((d.external_id, d.source, d.source_kind, d.local_path, d.title, d.thumbnail, d.metadata))
    if text.count("\t") != 6 or _NEEDS_ESCAPE.search(text):
        text = "\t".join(
            v.translate(_ESCAPES)
            for v in (d.external_id, d.source, d.source_kind, d.local_path, d.title, d.thumbnail, d.metadata)
        )
    sha256, clicks, topic = d.sha256, d.clicks, d.topic_id
    return (
        f"{text}\t{_NULL if sha256 is None else sha256}\t{_NULL if clicks is None else clicks}"
        f"\t{_NULL if topic is None else topic}\t"
    )


def _copy_value(field):
    value = field.get_default()
    return orjson.dumps(value).decode() if isinstance(value, (dict, list)) else value


def may_skip_triggers(cursor) -> bool:
    """Whether this role may set session_replication_role (superusers, or a PostgreSQL 15+
    GRANT SET ON PARAMETER); otherwise the triggers check every row, which is only slower."""
    granted = "has_parameter_privilege('session_replication_role', 'SET')"
    if connection.pg_version < 150000:
        granted = "false"
    cursor.execute(f"SELECT rolsuper OR {granted} FROM pg_roles WHERE rolname = current_user")
    row = cursor.fetchone()
    return bool(row and row[0])

"""Ingest: manifest rows become Video rows, in batches, idempotently.

Each batch is one transaction, so a crash loses at most the batch in flight and a re-run
completes the rest: ids already stored by an earlier run count as unchanged, ids repeated
within this run are reported. Per-row problems are collected, the good rows are kept.
"""

import itertools
import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from django.db import connection, transaction
from django.utils import timezone

from curation.errors import ManifestError
from curation.models import (
    SOURCE_MAX_LENGTH,
    Dataset,
    IngestRun,
    Video,
)
from curation.services.ingest.manifests import RowError, manifest_rows
from curation.services.ingest.parsing import ChildParser, chunks_read
from curation.services.ingest.rows import RowReader
from curation.services.pipeline import pipeline_start
from curation.sql.ingest import (
    DirectStore,
    Draft,
    NotStored,
    commit_without_flush,
    copy_line,
    may_skip_triggers,
    stored_files,
)
from curation.sql.ingest_staging import Staging

logger = logging.getLogger("microcurate.ingest")
BATCH_SIZE = 5000
STORED_ERRORS = 1000
MAX_REPORTED_IDS = 100_000


@dataclass
class IngestSummary:
    run_id: int
    rows_read: int = 0
    created: int = 0
    unchanged: int = 0
    rejected: int = 0
    errors: list[RowError] = field(default_factory=list)
    created_ids: list[int] = field(default_factory=list)

    def __str__(self) -> str:
        return (
            f"{self.rows_read} rows read: {self.created} new videos, {self.unchanged} already "
            f"present, {self.rejected} rejected"
        )


@dataclass(slots=True)
class _Batch:
    """What the writer stores in one transaction: drafts, and their COPY lines (row → line) when
    the reading side made them (None: the direct path makes them itself; see _Flusher)."""

    drafts: list[Draft]
    lines: dict[int, str] | None = None


class _BatchWriter:
    """Stores batches set-based, one transaction each: by one COPY straight into the video table
    when the role may skip the foreign-key triggers (curation.sql.ingest), else through a staging
    table (curation.sql.ingest_staging); rows the dataset already holds are reported, not stored."""

    def __init__(
        self,
        dataset: Dataset,
        run: IngestRun,
        summary: IngestSummary,
        pipeline: str,
        on_error: Callable[[RowError], None] | None,
    ):
        self.dataset = dataset
        self.run = run
        self.summary = summary
        self.pipeline = pipeline
        self.on_error = on_error
        self.direct: DirectStore | bool | None = None  # decided on the first batch
        self.lock = threading.Lock()  # rows are rejected by the reader and by the writer thread

    def reject(self, error: RowError) -> None:
        with self.lock:
            self.summary.rejected += 1
            if len(self.summary.errors) < STORED_ERRORS:
                self.summary.errors.append(error)
            if self.on_error:
                self.on_error(error)

    def write(self, batch: _Batch) -> list[int]:
        """Store one batch in one transaction; returns the ids of the new videos."""
        with transaction.atomic(), connection.cursor() as cursor:
            fresh = self._drop_repeats(batch.drafts)
            commit_without_flush(cursor)  # a batch need not wait for its WAL to reach the disk
            if self.direct is None:
                self.direct = (
                    DirectStore(self.dataset.id, self.run.id) if may_skip_triggers(cursor) else False
                )
            result = None
            if self.direct:
                want_ids = self.pipeline != "none"
                result = self.direct.write(cursor, fresh, want_ids=want_ids, lines=batch.lines)
            if result is None:  # no right to skip triggers, or a race with another ingest
                result = Staging(cursor, self.dataset.id).write(fresh, self.run.id)
            ids, not_stored = result.ids, result.not_stored
            self._report(not_stored, len(fresh) - len(not_stored), fresh)
            IngestRun.objects.filter(id=self.run.id).update(
                rows_read=self.summary.rows_read,
                created=self.summary.created,
                unchanged=self.summary.unchanged,
                rejected=self.summary.rejected,
            )
            if self.pipeline == "queue":
                pipeline_start(video_ids=ids, mode="queue")
        return ids

    def _drop_repeats(self, drafts: list[Draft]) -> list[Draft]:
        """Ids and file contents repeated within this batch (earlier batches: see _report)."""
        fresh, seen_ids, seen_hashes = [], {}, {}
        for draft in drafts:
            item = draft.external_id
            if item in seen_ids:
                reason = f"duplicate id {item!r} in this manifest (first at row {seen_ids[item]})"
                self.reject(RowError(draft.row, "id", reason, item))
                continue
            if draft.sha256 and draft.sha256 in seen_hashes:
                twin = seen_hashes[draft.sha256]
                self.reject(
                    RowError(
                        draft.row, "video", f"same file contents as video {twin!r} in this dataset", item
                    )
                )
                continue
            seen_ids[item] = draft.row
            if draft.sha256:
                seen_hashes[draft.sha256] = item
            fresh.append(draft)
        return fresh

    def _report(self, not_inserted: list[NotStored], created: int, drafts: list[Draft]) -> None:
        self.summary.created += created
        stored = [
            (row, item)
            for row, item, _, twin_run, by in not_inserted
            if by == "id" and twin_run != self.run.id
        ]
        moved = self._other_file(stored, drafts) if stored else {}
        for row, item, twin, twin_run, by in not_inserted:
            if by == "id" and twin_run != self.run.id:
                if row in moved:
                    self.reject(RowError(row, "video", moved[row], item))
                else:
                    self.summary.unchanged += 1
            elif by == "id":
                self.reject(RowError(row, "id", f"duplicate id {item!r} in this manifest", item))
            elif by == "sha256":
                reason = f"same file contents as video {twin!r} in this dataset"
                self.reject(RowError(row, "video", reason, item))
            else:
                self.reject(RowError(row, "id", "conflicts with a video stored at the same time", item))

    def _other_file(self, stored: list[tuple[int, str]], drafts: list[Draft]) -> dict[int, str]:
        """Rows whose id the dataset already holds for another file: row → reason. Such a row
        is not 'already present' (its video was not stored), and nothing stored is changed."""
        by_row = {draft.row: draft for draft in drafts}
        known = stored_files(dataset_id=self.dataset.id, external_ids=[item for _, item in stored])
        reasons = {}
        for row, item in stored:
            draft = by_row[row]
            held = known.get(item)
            source, local_path, sha256 = (
                (held.source, held.local_path, held.sha256)
                if held
                else (draft.source, draft.local_path, draft.sha256)
            )
            if draft.source_kind == Video.SourceKind.URL:
                if source != draft.source:
                    reasons[row] = f"id {item!r} is already stored for {source!r}, not this URL"
            elif sha256 and draft.sha256 and sha256 != draft.sha256:
                what = "this file changed since it" if local_path == draft.local_path else "another file"
                reasons[row] = (
                    f"id {item!r} is already stored for {what} (sha256 {sha256[:12]}…): use a new id"
                )
            elif not sha256 and local_path and local_path != draft.local_path:
                reasons[row] = f"id {item!r} is already stored for another file ({local_path})"
        return reasons


class _Flusher:
    """Hands full batches to the writer. Outside a caller's transaction, the writer runs on a
    second thread with its own connection, so the database stores one batch while this thread
    reads the next: on two cores that nearly halves an ingest's time. In a transaction or with
    the inline pipeline, batches are written in place."""

    def __init__(self, writer: _BatchWriter, summary: IngestSummary, pipeline: str):
        self.writer = writer
        self.summary = summary
        self.pipeline = pipeline
        threaded = not connection.in_atomic_block and pipeline != "inline"
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="ingest-writer") if threaded else None
        self.pending: Future | None = None

    def submit(self, batch: list[Draft], lines: dict[int, str] | None = None) -> None:
        """`lines`: the batch's COPY lines when the parsing process made them."""
        if self.pool is None:
            self._stored(self.writer.write(_Batch(batch)))
            return
        # Formatting COPY lines here keeps the writer thread's Python short: it would otherwise
        # contend for the GIL with this thread while the server works.
        if self.writer.direct is not False:  # only the direct path copies these lines
            lines = lines or {d.row: copy_line(d) for d in batch}
        else:
            lines = None
        self.wait()
        self.pending = self.pool.submit(self.writer.write, _Batch(batch, lines))

    def wait(self) -> None:
        """Until the batch in flight is stored; raises what the writer raised."""
        if self.pending is not None:
            future, self.pending = self.pending, None
            self._stored(future.result())

    def close(self) -> None:
        if self.pool is not None:
            # `connection` is per thread: looked up on the writer thread, this closes its own.
            self.pool.submit(lambda: connection.close()).result()
            self.pool.shutdown()

    def _stored(self, created: list[int]) -> None:
        if len(self.summary.created_ids) < MAX_REPORTED_IDS:
            self.summary.created_ids.extend(created)
        if self.pipeline == "inline":
            pipeline_start(video_ids=created, mode="inline")


def video_ingest(
    *,
    dataset: Dataset,
    path: Path,
    pipeline: str = "queue",
    progress: Callable[[int], None] | None = None,
    on_error: Callable[[RowError], None] | None = None,
    batch_size: int = BATCH_SIZE,
    base_dir: Path | None = None,
    parse_in_child: bool = False,
) -> IngestSummary:
    """Read a manifest (JSONL, CSV or folder) into `dataset`. Raises ManifestError when the
    manifest as a whole is unusable; row problems are returned in the summary. Relative paths
    start at `base_dir` (default: the manifest's folder). `parse_in_child`: read the manifest in a
    forked process while this one stores (see ChildParser); for single-threaded callers such as
    the ingest command, not for a web server's threads."""
    if pipeline not in ("queue", "inline", "none"):
        raise ManifestError(f"unknown pipeline mode {pipeline!r}; use queue, inline or none")
    path = Path(path)
    reporting = [progress]  # the parsing process reports through its own (see ChildParser)
    rows = manifest_rows(path, (lambda n: reporting[0](n)) if progress else None)
    # Reading the first row checks the header: a wrong one fails before anything is stored.
    first = next(rows, None)
    rows = itertools.chain([first] if first else [], rows)
    run = IngestRun.objects.create(dataset=dataset, source=str(path)[:SOURCE_MAX_LENGTH])
    summary = IngestSummary(run_id=run.id)
    reader = RowReader(dataset, base_dir or (path if path.is_dir() else path.parent), run)
    writer = _BatchWriter(dataset, run, summary, pipeline, on_error)
    flusher = _Flusher(writer, summary, pipeline)
    parser = None
    if parse_in_child and flusher.pool is not None and ChildParser.usable(dataset):
        parser = ChildParser(rows, reader, batch_size, reporting)
    try:
        chunks = parser.chunks() if parser else chunks_read(rows, reader, batch_size)
        for read, errors, drafts, lines, done in chunks:
            summary.rows_read += read
            for error in errors:
                writer.reject(error)
            if done and progress:
                progress(done)
            if drafts:
                flusher.submit(drafts, lines)
        flusher.wait()
    except BaseException as exc:
        if flusher.pending is not None:
            flusher.pending.exception()  # let the batch in flight end before the run is closed
        _finish(run, summary, IngestRun.Status.FAILED, f"interrupted: {exc!r}")
        raise
    finally:
        if parser:
            parser.stop()
        flusher.close()
    _finish(run, summary, IngestRun.Status.DONE)
    return summary


def _finish(run: IngestRun, summary: IngestSummary, status: str, error: str = "") -> None:
    IngestRun.objects.filter(id=run.id).update(
        status=status,
        error=error,
        rows_read=summary.rows_read,
        created=summary.created,
        unchanged=summary.unchanged,
        rejected=summary.rejected,
        errors=[
            {"row": e.row, "field": e.field, "reason": e.reason, "item": e.item}
            for e in summary.errors[:STORED_ERRORS]
        ],
        finished_at=timezone.now(),
    )

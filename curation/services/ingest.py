"""Ingest: manifest rows become Video rows, in batches, idempotently.

Each batch is one transaction, so a crash loses at most the batch in flight and a re-run
completes the rest: ids already stored by an earlier run count as unchanged, ids repeated
within this run are reported. Per-row problems are collected, the good rows are kept.
"""

import itertools
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from curation.errors import ManifestError
from curation.models import (
    SOURCE_MAX_LENGTH,
    Dataset,
    IngestRun,
    Publisher,
    StageStatus,
    Topic,
    Video,
)
from curation.services.ingest_rows import Draft, RowReader, RowRejected
from curation.services.manifests import RowError, manifest_rows
from curation.services.pipeline import pipeline_start

logger = logging.getLogger("microcurate.ingest")
BATCH_SIZE = 2000
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


class _BatchWriter:
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

    def reject(self, error: RowError) -> None:
        self.summary.rejected += 1
        if len(self.summary.errors) < STORED_ERRORS:
            self.summary.errors.append(error)
        if self.on_error:
            self.on_error(error)

    def write(self, drafts: list[Draft]) -> list[int]:
        """Store one batch in one transaction; returns the ids of the new videos."""
        with transaction.atomic():
            fresh = self._drop_known(drafts)
            self._attach_topics(fresh)
            self._attach_publishers(fresh)
            created = self._insert(fresh)
            IngestRun.objects.filter(id=self.run.id).update(
                rows_read=self.summary.rows_read,
                created=self.summary.created,
                unchanged=self.summary.unchanged,
                rejected=self.summary.rejected,
            )
            if self.pipeline == "queue":
                pipeline_start(video_ids=created, mode="queue")
        return created

    def _drop_known(self, drafts: list[Draft]) -> list[Draft]:
        ids = [d.video.external_id for d in drafts]
        hashes = [d.video.sha256 for d in drafts if d.video.sha256]
        stored = dict(
            Video.objects.filter(dataset=self.dataset, external_id__in=ids).values_list(
                "external_id", "ingest_run_id"
            )
        )
        stored_hashes = dict(
            Video.objects.filter(dataset=self.dataset, sha256__in=hashes).values_list("sha256", "external_id")
        )
        fresh, seen_ids, seen_hashes = [], {}, {}
        for draft in drafts:
            video = draft.video
            item = video.external_id
            if item in stored and stored[item] != self.run.id:
                self.summary.unchanged += 1
                continue
            if item in stored or item in seen_ids:
                first = f" (first at row {seen_ids[item]})" if item in seen_ids else ""
                self.reject(RowError(draft.row, "id", f"duplicate id {item!r} in this manifest{first}", item))
                continue
            twin = stored_hashes.get(video.sha256) or seen_hashes.get(video.sha256)
            if video.sha256 and twin:
                self.reject(
                    RowError(
                        draft.row, "video", f"same file contents as video {twin!r} in this dataset", item
                    )
                )
                continue
            seen_ids[item] = draft.row
            if video.sha256:
                seen_hashes[video.sha256] = item
            fresh.append(draft)
        return fresh

    def _attach_topics(self, drafts: list[Draft]) -> None:
        names = {d.topic_name for d in drafts if d.topic_name}
        if not names:
            return
        if self.dataset.open_world_topics:
            Topic.objects.bulk_create(
                [Topic(dataset=self.dataset, name=name) for name in names], ignore_conflicts=True
            )
        topics = dict(Topic.objects.filter(dataset=self.dataset, name__in=names).values_list("name", "id"))
        for draft in drafts:
            if draft.topic_name:
                draft.video.weak_topic_id = topics[draft.topic_name]

    def _attach_publishers(self, drafts: list[Draft]) -> None:
        followers = {}
        for d in drafts:
            if d.publisher_id:
                followers[d.publisher_id] = (
                    d.followers if d.followers is not None else followers.get(d.publisher_id)
                )
        if not followers:
            return
        Publisher.objects.bulk_create(
            [Publisher(dataset=self.dataset, external_id=p, followers=n) for p, n in followers.items()],
            ignore_conflicts=True,
        )
        ids = dict(
            Publisher.objects.filter(dataset=self.dataset, external_id__in=followers).values_list(
                "external_id", "id"
            )
        )
        for draft in drafts:
            if draft.publisher_id:
                draft.video.publisher_id = ids[draft.publisher_id]

    def _insert(self, drafts: list[Draft]) -> list[int]:
        if not drafts:
            return []
        try:
            with transaction.atomic():
                if connection.vendor == "postgresql":
                    ids = self._copy([d.video for d in drafts])
                else:
                    videos = Video.objects.bulk_create([Video(**vars(d.video)) for d in drafts])
                    ids = [v.id for v in videos]
        except IntegrityError:
            # Another ingest stored some of these between our check and insert: go row by row.
            ids = [v.id for v in self._insert_one_by_one(drafts)]
        self.summary.created += len(ids)
        return ids

    def _copy(self, rows: list[SimpleNamespace]) -> list[int]:
        """PostgreSQL COPY: an order of magnitude faster than INSERTs built by the ORM."""
        now = timezone.now()
        defaults = {"rotation": 0, "duration_source": "", "video_codec": "", "audio_codec": "",
                    "container": "", "error": "", "proxy_path": "", "probe_status": StageStatus.PENDING,
                    "frames_status": StageStatus.PENDING, "proxy_status": StageStatus.PENDING,
                    "created_at": now, "updated_at": now}  # fmt: skip
        columns = [*vars(rows[0]), *defaults]
        fixed = tuple(defaults.values())
        sql = f"COPY {Video._meta.db_table} ({', '.join(columns)}) FROM STDIN"
        metadata = columns.index("metadata")
        with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
            for row in rows:
                values = [*vars(row).values(), *fixed]
                values[metadata] = json.dumps(values[metadata], ensure_ascii=False)
                copy.write_row(values)
        return list(
            Video.objects.filter(ingest_run_id=self.run.id, external_id__in=[r.external_id for r in rows])
            .order_by("id")
            .values_list("id", flat=True)
        )

    def _insert_one_by_one(self, drafts: list[Draft]) -> list[Video]:
        stored = []
        for draft in drafts:
            video = Video(**vars(draft.video))
            try:
                with transaction.atomic():
                    video.save(force_insert=True)
            except IntegrityError:
                self.reject(
                    RowError(
                        draft.row,
                        "id",
                        "conflicts with a video stored at the same time",
                        draft.video.external_id,
                    )
                )
                continue
            stored.append(video)
        return stored


def video_ingest(
    *,
    dataset: Dataset,
    path: Path,
    pipeline: str = "queue",
    progress: Callable[[int], None] | None = None,
    on_error: Callable[[RowError], None] | None = None,
    batch_size: int = BATCH_SIZE,
    base_dir: Path | None = None,
) -> IngestSummary:
    """Read a manifest (JSONL, CSV or folder) into `dataset`. Raises ManifestError when the
    manifest as a whole is unusable; row problems are returned in the summary. Relative paths
    start at `base_dir` (default: the manifest's folder)."""
    if pipeline not in ("queue", "inline", "none"):
        raise ManifestError(f"unknown pipeline mode {pipeline!r}; use queue, inline or none")
    path = Path(path)
    rows = manifest_rows(path, progress)
    # Reading the first row checks the header: a wrong one fails before anything is stored.
    first = next(rows, None)
    rows = itertools.chain([first] if first else [], rows)
    run = IngestRun.objects.create(dataset=dataset, source=str(path)[:SOURCE_MAX_LENGTH])
    summary = IngestSummary(run_id=run.id)
    reader = RowReader(dataset, base_dir or (path if path.is_dir() else path.parent), run)
    writer = _BatchWriter(dataset, run, summary, pipeline, on_error)
    batch: list[Draft] = []

    def flush() -> None:
        created = writer.write(batch)
        batch.clear()
        if len(summary.created_ids) < MAX_REPORTED_IDS:
            summary.created_ids.extend(created)
        if pipeline == "inline":
            pipeline_start(video_ids=created, mode="inline")

    try:
        for number, record in rows:
            summary.rows_read += 1
            if isinstance(record, RowError):
                writer.reject(record)
            else:
                try:
                    batch.append(reader.read(number, record))
                except RowRejected as exc:
                    item = str(record.get("id") or record.get("video") or "")[:80]
                    writer.reject(RowError(number, exc.field, exc.reason, item))
            if len(batch) >= batch_size:
                flush()
        flush()
    except BaseException as exc:
        _finish(run, summary, IngestRun.Status.FAILED, f"interrupted: {exc!r}")
        raise
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

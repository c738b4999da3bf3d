"""Ingest: a manifest (JSONL, CSV, a folder of clips) or an upload becomes Video rows, in
batches, idempotently. `run` stores batches, `rows` checks each row, `manifests` reads the files;
the two ways a batch reaches the database are SQL (curation.sql.ingest, curation.sql.ingest_staging)."""

from curation.services.ingest.manifests import RowError, manifest_rows, manifest_size
from curation.services.ingest.run import IngestSummary, video_ingest
from curation.services.ingest.uploads import video_ingest_upload

__all__ = [
    "IngestSummary",
    "RowError",
    "manifest_rows",
    "manifest_size",
    "video_ingest",
    "video_ingest_upload",
]

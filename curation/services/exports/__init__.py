"""Exports: a frozen split (or a whole dataset) written as files ML code reads, as a background
job (`jobs`): rows read from the database (`rows`) in the one schema (`schema`), one writer per
format (`writers`)."""

from curation.services.exports.jobs import (
    FORMATS,
    STALE_AFTER,
    ExportError,
    ExportFileNotFound,
    export_enqueue,
    export_file_get,
    export_is_stale,
    export_request,
    export_run,
    exports_root,
)

__all__ = [
    "FORMATS", "STALE_AFTER", "ExportError", "ExportFileNotFound", "export_enqueue", "export_file_get",
    "export_is_stale", "export_request", "export_run", "exports_root",
]  # fmt: skip

import tempfile
from pathlib import Path

from django.core.files.uploadedfile import UploadedFile

from curation.errors import CurationError
from curation.media_store import media_root
from curation.models import Dataset, IngestRun
from curation.services.ingest.run import IngestSummary, video_ingest


def video_ingest_upload(*, dataset: Dataset, upload: UploadedFile, pipeline: str) -> IngestSummary:
    """Ingest an uploaded manifest (admin form, REST). Its relative paths start at MEDIA_ROOT:
    the upload itself lives in a temporary folder that is no media root."""
    with tempfile.TemporaryDirectory() as folder:
        manifest = Path(folder) / f"manifest{Path(upload.name).suffix.lower()}"
        with open(manifest, "wb") as out:
            for chunk in upload.chunks():
                out.write(chunk)
        try:
            summary = video_ingest(dataset=dataset, path=manifest, pipeline=pipeline, base_dir=media_root())
        except CurationError as exc:
            # The person knows the file by its name, not by the temporary copy's.
            exc.args = (f"{upload.name}: {exc}",)
            raise
    IngestRun.objects.filter(id=summary.run_id).update(source=f"upload: {upload.name}"[:2048])
    return summary

"""An export requested with a queue runs in a real Celery worker process (Redis, PostgreSQL)."""

import json
import shutil
from pathlib import Path

import pytest

from curation.models import ExportJob
from curation.services.exports import export_request
from tests.curation.export_fixtures import release_fixture, var_dir_fixture  # noqa: F401
from tests.waiting import wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.celery_worker]


def test_a_queued_export_is_run_by_the_worker_and_its_files_are_whole(celery_worker_process, release):
    job = export_request(dataset=release, split="v1", format="jsonl")
    assert job.status == "queued"

    wait_for(lambda: ExportJob.objects.get(id=job.id).status in ("done", "failed"))

    job.refresh_from_db()
    folder = Path(job.directory)
    try:
        assert job.status == "done", job.error
        assert (job.rows_done, job.rows_total) == (11, 11)
        manifest = json.loads((folder / "manifest.json").read_text())
        assert manifest["job"] == job.id and manifest["rows"]["by_subset"] == {
            "train": 8,
            "val": 1,
            "test": 2,
        }
        assert len((folder / "train.jsonl").read_text().splitlines()) == 8
        # Asking again returns the finished job instead of exporting the frozen version twice.
        assert export_request(dataset=release, split="v1", format="jsonl").id == job.id
    finally:  # the worker writes under its own VAR_DIR, not the test's
        shutil.rmtree(folder, ignore_errors=True)
        if folder.parent.is_dir() and not any(folder.parent.iterdir()):
            folder.parent.rmdir()

"""An export process killed mid-write (kill -9: no handler runs) offers nothing; the next run takes over."""

import os
import subprocess
import sys
from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from curation.models import ExportJob
from curation.services.exports import ExportFileNotFound, export_file_get, export_request, export_run
from tests.conftest import ROOT
from tests.curation.export_fixtures import release_fixture, var_dir_fixture  # noqa: F401
from tests.processes import database_url

pytestmark = pytest.mark.django_db(transaction=True)

CHILD = """
import os, signal, sys
import django
django.setup()
from curation.services.exports import writers as exports_writers
from curation.services.exports import export_run

real_write, written = exports_writers.JsonlWriter.write, []

def write_then_die(self, row):
    real_write(self, row)
    written.append(row)
    if len(written) == 6:
        for handle in self.handles:
            handle.flush()
        os.kill(os.getpid(), signal.SIGKILL)

exports_writers.JsonlWriter.write = write_then_die
export_run(job_id=int(sys.argv[1]))
"""


def test_a_killed_export_leaves_no_download_and_a_later_run_finishes_it(release, var_dir):
    job = export_request(dataset=release, split="v1", format="jsonl", enqueue=False)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": database_url(),
        "MICROCURATE_VAR_DIR": str(var_dir),
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
    }
    done = subprocess.run([sys.executable, "-c", CHILD, str(job.id)], cwd=ROOT, env=env, capture_output=True)
    assert done.returncode == -9, done.stderr.decode()[-2000:]

    job.refresh_from_db()
    assert job.status == "running" and job.directory == ""
    assert [p.name for p in (var_dir / "exports").iterdir()] == [f".tmp-{job.id}"]  # half-written, hidden
    with pytest.raises(ExportFileNotFound, match=f"export job {job.id} is running"):
        export_file_get(job=job, name="train.jsonl")

    ExportJob.objects.filter(id=job.id).update(heartbeat_at=timezone.now() - timedelta(hours=1))
    job = export_run(job_id=job.id)
    assert job.status == "done" and job.manifest["files"]["train.jsonl"]["rows"] == 8
    assert not (var_dir / "exports" / f".tmp-{job.id}").exists()

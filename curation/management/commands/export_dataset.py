import shutil
import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from curation.errors import CurationError
from curation.models import ExportJob
from curation.services.datasets import dataset_get
from curation.services.exports import FORMATS, export_request, export_run


class Command(BaseCommand):
    help = (
        "Export a dataset, or a frozen split of it, as jsonl, csv, mmaction, webdataset, parquet or srt. "
        "Runs here by default (with progress); --queue hands it to a Celery worker."
    )
    # An export reads the database and writes files: the start-up checks for ffmpeg and the OCR
    # weights (which load the OCR stack, ~70 MB and a second of CPU) say nothing about it.
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("--dataset", required=True, help="the dataset's slug")
        parser.add_argument("--split", help="a frozen split version, e.g. v1 (default: every video)")
        parser.add_argument("--format", choices=FORMATS, default="jsonl")
        parser.add_argument(
            "--out", type=Path, help="also copy the finished files into this empty or new folder"
        )
        parser.add_argument("--queue", action="store_true", help="enqueue the job and print its id")
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args, **options):
        out: Path | None = options["out"]
        if out is not None and options["queue"]:
            raise CommandError("--out copies a finished export: leave out --queue, or download it when done")
        if out is not None and out.exists() and not out.is_dir():
            raise CommandError(f"{out} exists and is not a folder")
        if out is not None and (out / "manifest.json").exists():
            raise CommandError(f"{out} already holds an export (manifest.json); choose an empty folder")
        try:
            dataset = dataset_get(slug=options["dataset"])
            job = export_request(
                dataset=dataset, split=options["split"], format=options["format"], enqueue=options["queue"]
            )
            if options["queue"]:
                self.stdout.write(f"export job {job.id}: {job.status}")
                return
            if job.status != ExportJob.Status.DONE:
                job = self._run(job, quiet=options["no_progress"])
        except CurationError as exc:
            raise CommandError(str(exc)) from None
        if job.status != ExportJob.Status.DONE:
            raise CommandError(
                f"export job {job.id} is {job.status} in another process "
                f"(started {job.started_at:%H:%M:%S}); wait for it, or run this again once its worker stopped"
            )
        folder = Path(job.directory)
        if out is not None:
            out.mkdir(parents=True, exist_ok=True)
            for name in [*job.manifest["files"], "manifest.json"]:
                (out / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(folder / name, out / name)
            folder = out
        for name, info in job.manifest["files"].items():
            self.stdout.write(f"{folder / name}: {info['rows']} rows, sha256 {info['sha256']}")
        for reason, entry in job.manifest.get("format_notes", {}).get("left_out", {}).items():
            self.stdout.write(f"{entry['videos']} videos: {reason} (e.g. {', '.join(entry['examples'][:3])})")
        self.stdout.write(f"{folder / 'manifest.json'}")

    def _run(self, job: ExportJob, *, quiet: bool) -> ExportJob:
        with tqdm(total=job.rows_total or None, unit="videos", disable=quiet, file=sys.stderr) as bar:

            def progress(done: int, total: int) -> None:
                bar.total = total
                bar.update(done - bar.n)

            return export_run(job_id=job.id, progress=progress)

import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from curation.checks import CHECK_TAG
from curation.errors import CurationError
from curation.services.datasets import dataset_get
from curation.services.ingest import video_ingest
from curation.services.ingest.manifests import manifest_size


class Command(BaseCommand):
    help = "Ingest a JSONL/CSV manifest or a folder of videos (topic = sub-folder) into a dataset."
    # Our own checks (ffmpeg, media roots, OCR weights) only: the URL checks import every API view.
    requires_system_checks = [CHECK_TAG]

    def add_arguments(self, parser):
        parser.add_argument("--dataset", required=True)
        parser.add_argument("path", type=Path)
        parser.add_argument("--pipeline", choices=["queue", "inline", "none"], default="queue")
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args, **options):
        path = options["path"]
        try:
            dataset = dataset_get(slug=options["dataset"])
            total, unit = manifest_size(path) if path.exists() else (0, "B")
            with tqdm(
                total=total,
                unit=unit,
                unit_scale=unit == "B",
                desc=f"ingest {path.name}",
                disable=options["no_progress"] or None,
                file=sys.stderr,
            ) as bar:
                summary = video_ingest(
                    dataset=dataset,
                    path=path,
                    pipeline=options["pipeline"],
                    progress=bar.update,
                    on_error=lambda error: bar.write(f"rejected {error}", file=sys.stderr),
                    parse_in_child=True,
                )
        except CurationError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"{dataset.slug}: {summary} (ingest run {summary.run_id})")
        if summary.rejected:
            # Scripts must notice: a manifest whose rows were all refused is not a success.
            stored = "nothing was stored" if not summary.created else "the other rows were stored"
            raise CommandError(
                f"{summary.rejected} of {summary.rows_read} rows rejected (listed above); {stored}"
            )

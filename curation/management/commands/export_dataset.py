from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from curation.errors import CurationError
from curation.services.datasets import dataset_get
from curation.services.exports import FORMATS, dataset_export


class Command(BaseCommand):
    help = "Export a dataset (videos, probe data, frames, candidates, thumbnail ground truth) to a folder."

    def add_arguments(self, parser):
        parser.add_argument("--dataset", required=True, help="the dataset's slug")
        parser.add_argument("--format", choices=FORMATS, default="jsonl")
        parser.add_argument("--out", required=True, type=Path, help="an empty or new folder")

    def handle(self, *args, **options):
        try:
            dataset = dataset_get(slug=options["dataset"])
            summary = dataset_export(dataset=dataset, format=options["format"], out=options["out"])
        except CurationError as exc:
            raise CommandError(str(exc)) from None
        for name, info in summary.files.items():
            self.stdout.write(f"{summary.directory / name}: {info['rows']} rows, sha256 {info['sha256']}")
        self.stdout.write(f"{summary.directory / 'manifest.json'}")

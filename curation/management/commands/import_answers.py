from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from curation.errors import CurationError
from curation.models import Dataset
from curation.services.labels.answers_import import REPEATED, answers_import

LISTED = 20


class Command(BaseCommand):
    help = (
        "Import topic-verification answers from elsewhere: CSV/TSV with columns video (or video_id, "
        "item), worker (worker_id), answer (label) and optionally gold. Idempotent."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dataset", required=True, help="dataset slug")
        parser.add_argument(
            "--repeated",
            choices=REPEATED,
            default="refuse",
            help="when a worker answered the same video more than once in the file: store the first or "
            "the last answer; refuse (default) refuses a file where they differ. all cannot be stored "
            "(one answer per worker and video); aggregate_file --repeated all counts every answer",
        )
        parser.add_argument("file", type=Path)

    def handle(self, *args, **options):
        dataset = Dataset.objects.filter(slug=options["dataset"]).first()
        if dataset is None:
            raise CommandError(f"no dataset {options['dataset']!r}")
        try:
            summary = answers_import(dataset=dataset, path=options["file"], repeated=options["repeated"])
        except CurationError as exc:
            raise CommandError(str(exc)) from None
        for error in summary.errors[:LISTED]:
            self.stderr.write(f"rejected {error}")
        if summary.rejected > LISTED:
            self.stderr.write(f"… and {summary.rejected - LISTED} more rejected rows")
        self.stdout.write(f"{dataset.slug}: {summary}")

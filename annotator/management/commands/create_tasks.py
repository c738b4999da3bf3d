from django.core.management.base import BaseCommand, CommandError

from annotator.errors import AnnotationError
from annotator.models import TaskKind
from annotator.services.creation import tasks_create
from curation.models import Dataset


class Command(BaseCommand):
    help = "Create annotation tasks (topic verification or thumbnail check) for a dataset's videos."

    def add_arguments(self, parser):
        parser.add_argument("--dataset", required=True, help="dataset slug")
        parser.add_argument("--kind", required=True, choices=TaskKind.values)
        parser.add_argument("--limit", type=int, help="at most this many new tasks")
        parser.add_argument("--only-split", help="only videos whose manifest gave this split")

    def handle(self, *args, **options):
        dataset = Dataset.objects.filter(slug=options["dataset"]).first()
        if dataset is None:
            raise CommandError(f"no dataset {options['dataset']!r}")
        try:
            summary = tasks_create(
                dataset=dataset,
                kind=options["kind"],
                limit=options["limit"],
                only_split=options["only_split"],
            )
        except AnnotationError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"{dataset.slug}: {summary}")

from django.core.management.base import BaseCommand, CommandError

from curation.errors import CurationError
from curation.services.datasets import dataset_get
from curation.services.splits import split_freeze, split_get


class Command(BaseCommand):
    help = "Freeze a split version: it never changes again, and it can be exported."

    def add_arguments(self, parser):
        parser.add_argument("--dataset", required=True)
        parser.add_argument("--name", required=True)

    def handle(self, *args, **options):
        try:
            split = split_freeze(
                split=split_get(dataset=dataset_get(slug=options["dataset"]), name=options["name"])
            )
        except CurationError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"split {split.name} frozen at {split.frozen_at:%Y-%m-%d %H:%M:%S}")

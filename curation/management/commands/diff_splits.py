from django.core.management.base import BaseCommand, CommandError

from curation.errors import CurationError
from curation.services.datasets import dataset_get
from curation.services.splits import split_compare, split_diff_text, split_get


class Command(BaseCommand):
    help = "Compare two split versions: videos added, removed and moved between subsets."

    def add_arguments(self, parser):
        parser.add_argument("--dataset", required=True)
        parser.add_argument("old")
        parser.add_argument("new")

    def handle(self, *args, **options):
        try:
            dataset = dataset_get(slug=options["dataset"])
            diff = split_compare(
                old=split_get(dataset=dataset, name=options["old"]),
                new=split_get(dataset=dataset, name=options["new"]),
            )
        except CurationError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"{options['old']} → {options['new']}")
        for line in split_diff_text(diff):
            self.stdout.write(f"  {line}")

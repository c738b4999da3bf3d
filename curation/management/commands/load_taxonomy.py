from django.core.management.base import BaseCommand, CommandError

from curation.errors import CurationError
from curation.services.datasets import dataset_get
from curation.services.taxonomy import taxonomy_load, taxonomy_resolve


class Command(BaseCommand):
    help = "Load topics into a dataset: 'usv' (USV's 212 topics) or a CSV/JSON file."

    def add_arguments(self, parser):
        parser.add_argument("--dataset", required=True)
        parser.add_argument("taxonomy", help="'usv' or a CSV/JSON file (topic, macro_topic, synonyms)")

    def handle(self, *args, **options):
        try:
            dataset = dataset_get(slug=options["dataset"])
            created, updated = taxonomy_load(dataset=dataset, topics=taxonomy_resolve(options["taxonomy"]))
        except CurationError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"{dataset.slug}: {created} topics added, {updated} updated")

from django.core.management.base import BaseCommand, CommandError

from curation.errors import CurationError
from curation.services.datasets import dataset_create


class Command(BaseCommand):
    help = "Create a dataset, optionally with a taxonomy (usv or a CSV/JSON file)."

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("--name", default="")
        parser.add_argument("--taxonomy", help="'usv' or a CSV/JSON file of topics")
        parser.add_argument("--open-world-topics", action="store_true")
        parser.add_argument("--sample-fps", type=float)
        parser.add_argument("--annotation-overlap", type=int)

    def handle(self, *args, **options):
        settings = {
            key: options[key] for key in ("sample_fps", "annotation_overlap") if options[key] is not None
        }
        try:
            dataset = dataset_create(
                slug=options["slug"],
                name=options["name"],
                taxonomy=options["taxonomy"],
                open_world_topics=options["open_world_topics"],
                **settings,
            )
        except CurationError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"created dataset {dataset.slug} with {dataset.topics.count()} topics")

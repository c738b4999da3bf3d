from django.core.management.base import BaseCommand, CommandError

from annotator.conf import ORDERS
from annotator.errors import AnnotationError
from annotator.models import TaskKind
from annotator.services.creation import tasks_create
from annotator.services.ordering import task_reprioritise
from curation.models import Dataset


class Command(BaseCommand):
    help = (
        "Create annotation tasks (topic verification or thumbnail check) for a dataset's videos, in a "
        "verification order; or, with --reorder, give the open topic tasks the order's priorities."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dataset", required=True, help="dataset slug")
        parser.add_argument("--kind", required=True, choices=TaskKind.values)
        parser.add_argument(
            "--order",
            choices=ORDERS,
            help="verification order of this round (default: the dataset's verification_order setting)",
        )
        parser.add_argument(
            "--limit", type=int, help="at most this many new tasks, the highest-priority ones"
        )
        parser.add_argument("--only-split", help="only videos whose manifest gave this split")
        parser.add_argument(
            "--reorder",
            action="store_true",
            help="create nothing: reprioritise the open topic tasks and their open slots by the order",
        )

    def handle(self, *args, **options):
        dataset = Dataset.objects.filter(slug=options["dataset"]).first()
        if dataset is None:
            raise CommandError(f"no dataset {options['dataset']!r}")
        try:
            if options["reorder"]:
                summary = self._reorder(dataset, options)
            else:
                summary = tasks_create(
                    dataset=dataset,
                    kind=options["kind"],
                    limit=options["limit"],
                    only_split=options["only_split"],
                    order=options["order"],
                )
        except AnnotationError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"{dataset.slug}: {summary}")

    def _reorder(self, dataset: Dataset, options: dict):
        if options["kind"] != TaskKind.TOPIC:
            raise CommandError("--reorder reprioritises topic tasks: use --kind topic")
        given = [name for name in ("limit", "only_split") if options[name] is not None]
        if given:
            flags = ", ".join(f"--{name.replace('_', '-')}" for name in given)
            raise CommandError(f"--reorder creates no tasks: {flags} cannot go with it")
        return task_reprioritise(dataset=dataset, order=options["order"])

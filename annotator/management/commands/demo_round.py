import time
from collections import Counter

from django.core.management.base import BaseCommand, CommandError

from annotator.models import Answer, TaskKind
from annotator.services.aggregation import dataset_aggregate
from annotator.services.creation import tasks_create
from annotator.services.demo_round import demo_round_step
from curation.errors import CurationError
from curation.models import Dataset
from curation.services.demo import DEMO_SLUG, demo_pipeline_coming, demo_split_and_train


class Command(BaseCommand):
    help = (
        "The demo's simulated annotation round (used by make demo): simulated crowdworkers answer part "
        "of the topic and thumbnail tasks, the answers are aggregated, and once the pipeline is done a "
        "split is made and frozen and (models on) a training queued. With --follow, as the pipeline "
        "makes videos ready, until it is done."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dataset", default=DEMO_SLUG, help=f"dataset slug (default {DEMO_SLUG})")
        parser.add_argument("--follow", action="store_true", help="keep going until the pipeline is done")
        parser.add_argument("--poll", type=float, default=5.0, help="seconds between looks (--follow)")
        parser.add_argument(
            "--aggregate-every", type=float, default=60.0, help="seconds between aggregations (--follow)"
        )
        parser.add_argument("--seed", type=int, default=0)

    def handle(self, *args, **options):
        dataset = Dataset.objects.filter(slug=options["dataset"]).first()
        if dataset is None:
            raise CommandError(f"no dataset {options['dataset']!r}")
        given: Counter = Counter()
        thumbnail_tasks = 0
        aggregated_at, last = -1, time.monotonic()
        while True:
            coming = demo_pipeline_coming(dataset)
            # Thumbnail tasks need a video's candidate frames: made as the frames stage finishes.
            thumbnail_tasks += tasks_create(dataset=dataset, kind=TaskKind.THUMBNAIL).created
            # While videos are coming, topic answers wait for the gold tasks (made once enough
            # videos with a known answer are ready).
            step = demo_round_step(dataset=dataset, seed=options["seed"], wait_for_gold=bool(coming))
            given.update(step.answers)
            if step.gold_made:
                self.stdout.write(f"{dataset.slug}: {step.gold_made} gold topic tasks made")
            answers = Answer.objects.filter(task__dataset=dataset).count()
            due = not options["follow"] or not coming or time.monotonic() - last >= options["aggregate_every"]
            if answers != aggregated_at and due:
                # What was made and answered since the last aggregation, in a line each.
                if thumbnail_tasks:
                    self.stdout.write(f"{dataset.slug}: {thumbnail_tasks} new thumbnail tasks")
                step.answers = given
                self.stdout.write(f"{dataset.slug}: {step}")
                given, thumbnail_tasks = Counter(), 0
                self._aggregate(dataset)
                aggregated_at, last = answers, time.monotonic()
            if not coming:
                try:
                    for line in demo_split_and_train(dataset=dataset):
                        self.stdout.write(f"{dataset.slug}: {line}")
                except CurationError as exc:  # e.g. too few videos for the split's three subsets
                    self.stderr.write(f"{dataset.slug}: no split: {exc}")
                return
            if not options["follow"]:
                self.stdout.write(f"{dataset.slug}: {coming} videos still in the pipeline: no split yet")
                return
            time.sleep(options["poll"])

    def _aggregate(self, dataset: Dataset) -> None:
        try:
            summary = dataset_aggregate(dataset=dataset)
        except CurationError as exc:  # e.g. no answer counts yet; the next look tries again
            self.stdout.write(f"{dataset.slug}: no aggregation yet: {exc}")
            return
        self.stdout.write(f"{dataset.slug}: aggregated: {summary}")

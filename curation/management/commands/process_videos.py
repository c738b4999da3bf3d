from django.core.management.base import BaseCommand, CommandError

from curation.errors import CurationError
from curation.models import StageStatus, Video
from curation.services.datasets import dataset_get
from curation.services.pipeline import STAGES, pipeline_reset, pipeline_start


class Command(BaseCommand):
    help = "Start (or restart) the pipeline for a dataset's pending videos; --retry-failed too."

    def add_arguments(self, parser):
        parser.add_argument("--dataset", required=True)
        parser.add_argument("--pipeline", choices=["queue", "inline"], default="queue")
        parser.add_argument("--retry-failed", action="store_true", help="reset failed stages")

    def handle(self, *args, **options):
        try:
            dataset = dataset_get(slug=options["dataset"])
        except CurationError as exc:
            raise CommandError(str(exc)) from None
        first = STAGES[0]
        if options["retry_failed"]:
            reset = pipeline_reset(
                dataset_id=dataset.id, stage_name=first.name, statuses=[StageStatus.FAILED]
            )
            self.stdout.write(f"{len(reset)} failed videos reset to pending")
        ids = list(
            Video.objects.filter(dataset=dataset, **{first.status_field: StageStatus.PENDING})
            .order_by("id")
            .values_list("id", flat=True)
        )
        pipeline_start(video_ids=ids, mode=options["pipeline"])
        self.stdout.write(f"{dataset.slug}: pipeline started for {len(ids)} videos ({options['pipeline']})")

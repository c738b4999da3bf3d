from django.core.management.base import BaseCommand, CommandError
from django.db.models import Q

from curation.errors import CurationError
from curation.models import StageStatus, Video
from curation.services.datasets import dataset_get
from curation.services.pipeline import STAGES, pipeline_reset, pipeline_start
from curation.services.pipeline.recovery import pipeline_reset_stale


class Command(BaseCommand):
    help = (
        "Start (or restart) the pipeline for a dataset's pending videos; --retry-failed also takes "
        "failed stages and running ones whose worker is gone."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dataset", required=True)
        parser.add_argument("--pipeline", choices=["queue", "inline"], default="queue")
        parser.add_argument(
            "--retry-failed",
            action="store_true",
            help="reset failed stages, and running ones older than their hard time limit (a dead worker)",
        )
        parser.add_argument(
            "--redo",
            choices=[stage.name for stage in STAGES],
            help="run this stage again on videos where it is done (e.g. frames after changing sample_fps)",
        )

    def handle(self, *args, **options):
        try:
            dataset = dataset_get(slug=options["dataset"])
        except CurationError as exc:
            raise CommandError(str(exc)) from None
        if options["retry_failed"]:
            for stage in STAGES:
                failed = pipeline_reset(
                    dataset_id=dataset.id, stage_name=stage.name, statuses=[StageStatus.FAILED]
                )
                stale = pipeline_reset_stale(dataset_id=dataset.id, stage_name=stage.name)
                self.stdout.write(
                    f"{stage.name}: {len(failed)} failed and {len(stale)} stale running videos "
                    "reset to pending"
                )
        if options["redo"]:
            reset = pipeline_reset(
                dataset_id=dataset.id, stage_name=options["redo"], statuses=[StageStatus.DONE]
            )
            self.stdout.write(f"{options['redo']}: {len(reset)} videos to run again")
        # A stage already done is skipped (its claim fails) and the next one runs.
        pending = Q()
        for stage in STAGES:
            pending |= Q(**{stage.status_field: StageStatus.PENDING})
        ids = list(
            Video.objects.filter(pending, dataset=dataset)
            .exclude(**{f"{STAGES[0].status_field}": StageStatus.FAILED})
            .order_by("id")
            .values_list("id", flat=True)
        )
        pipeline_start(video_ids=ids, mode=options["pipeline"])
        self.stdout.write(f"{dataset.slug}: pipeline started for {len(ids)} videos ({options['pipeline']})")

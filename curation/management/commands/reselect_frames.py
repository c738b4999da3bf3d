from django.core.management.base import BaseCommand, CommandError

from curation.errors import CurationError
from curation.models import StageStatus, Video
from curation.selectors import dataset_candidate_counts
from curation.services.datasets import dataset_get
from curation.services.frames import frames_reselect


class Command(BaseCommand):
    help = (
        "Apply a dataset's current thresholds to the stored frame scores (flags, clusters, candidates, "
        "ground truth, duplicate groups) without decoding the videos again."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dataset", required=True)

    def handle(self, *args, **options):
        try:
            dataset = dataset_get(slug=options["dataset"])
        except CurationError as exc:
            raise CommandError(str(exc)) from None
        videos = Video.objects.filter(dataset=dataset, frames_status=StageStatus.DONE).select_related(
            "dataset"
        )
        count = 0
        for video in videos.defer("signature").order_by("id").iterator(chunk_size=500):
            frames_reselect(video=video)
            count += 1
        self.stdout.write(f"{dataset.slug}: thresholds applied to the frames of {count} videos")
        distribution = dataset_candidate_counts(dataset=dataset)
        shown = ", ".join(f"{k}: {v}" for k, v in distribution.items()) or "none"
        self.stdout.write(f"candidate frames per video (candidates: videos): {shown}")

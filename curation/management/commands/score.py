from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from curation.errors import CurationError
from curation.services.datasets import dataset_get
from curation.services.modelling import dataset_score


class Command(BaseCommand):
    help = (
        "Score every video of a dataset whose features are computed: zero-shot, and the latest "
        "(or the given) ModelRun; on the ml queue with --queue."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dataset", required=True)
        parser.add_argument("--model", type=int, help="a ModelRun id (default: the latest finished one)")
        parser.add_argument("--queue", action="store_true", help="score on the ml queue instead of here")

    def handle(self, *args, **options):
        try:
            dataset = dataset_get(slug=options["dataset"])
            if options["queue"]:
                from curation import tasks

                tasks.dataset_score_task.delay(dataset.id, options["model"])
                self.stdout.write(f"{dataset.slug}: scoring queued on the ml queue")
                return
            bar = tqdm(desc="scoring", unit="video", file=self.stderr, disable=None)

            def progress(done: int, total: int) -> None:
                bar.total = total
                bar.update(done - bar.n)

            summary = dataset_score(dataset_id=dataset.id, run_id=options["model"], progress=progress)
            bar.close()
        except CurationError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"{dataset.slug}: {summary.scored} scores stored ({', '.join(summary.versions)})")

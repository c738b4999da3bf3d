from django.core.management.base import BaseCommand, CommandError

from annotator.services.aggregation import dataset_aggregate
from curation.errors import CurationError
from curation.models import Dataset
from curation.services.labels.noise import NoiseEstimateError, noise_bias
from curation.services.labels.noise_model import noise_estimates_model


class Command(BaseCommand):
    help = (
        "Aggregate a dataset's topic-verification answers (collected and imported) into per-video "
        "verdicts, agreement and noise estimates; with a finished model run, also the model's noise "
        "estimate for the unverified videos (its scores calibrated on these verdicts)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dataset", required=True, help="dataset slug")
        parser.add_argument(
            "--method",
            choices=["auto", "usv", "mv", "ds"],
            default="auto",
            help="usv: two No ⇒ noise; mv: majority vote; ds: Dawid–Skene (gold-aware); "
            "auto (default): USV's rule below 3 answers per video, Dawid–Skene from 3",
        )

    def handle(self, *args, **options):
        dataset = Dataset.objects.filter(slug=options["dataset"]).first()
        if dataset is None:
            raise CommandError(f"no dataset {options['dataset']!r}")
        try:
            summary = dataset_aggregate(dataset=dataset, method=options["method"])
        except CurationError as exc:
            raise CommandError(f"{dataset.slug}: {exc}") from None
        self.stdout.write(f"{dataset.slug}: {summary}")
        overall = next((e for e in summary.estimates if e.scope == "dataset" and e.key == ""), None)
        bias = noise_bias(summary.estimates)
        if bias["biased"]:
            self.stdout.write(f"Noise estimate {bias['reason']}")
        if overall is None:
            if not bias["biased"]:
                self.stdout.write("No verified or noise verdicts yet: no noise estimate.")
        else:
            judged = "judged random-order" if bias["biased"] else "judged"
            self.stdout.write(
                f"Noise: {overall.noisy} of {overall.n} {judged} videos = {overall.rate:.1%} "
                f"(95 % CI {overall.low:.1%}–{overall.high:.1%}, {overall.interval})"
            )
        extrapolation = next((e for e in summary.estimates if e.scope == "extrapolation"), None)
        if extrapolation is not None:
            self.stdout.write(
                f"Of the {extrapolation.population} unverified videos about "
                f"{round(extrapolation.rate * extrapolation.population)} are probably noise "
                f"(95 % CI {extrapolation.expected_low}–{extrapolation.expected_high})."
            )
        self.stdout.write(f"{summary.seconds:.2f} s, run {summary.run_id}")
        self._model_estimate(dataset)

    def _model_estimate(self, dataset: Dataset) -> None:
        from curation.services.modelling.scoring import model_run_latest

        run = model_run_latest(dataset)
        if run is None:
            return
        try:
            model = noise_estimates_model(dataset=dataset, run=run)
        except NoiseEstimateError as exc:
            self.stdout.write(f"No model noise estimate: {exc}")
            return
        self.stdout.write(f"Model estimate: {model}")

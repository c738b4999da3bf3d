import json

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from curation.errors import CurationError
from curation.services.datasets import dataset_get
from curation.services.modelling import dataset_score, model_run_create, model_run_enqueue, model_run_train

COLUMNS = (("val", "mca"), ("test", "mca"), ("test", "top5"), ("test", "map_tag"))


class Command(BaseCommand):
    help = (
        "Train the baseline topic models on a frozen split's train subset, evaluate them on val and test, "
        "store a ModelRun and score every video with it."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dataset", required=True)
        parser.add_argument("--split", required=True, help="a frozen split version, e.g. v1")
        parser.add_argument(
            "--modalities", default="visual,audio,text", help="comma-separated: visual,audio,text"
        )
        parser.add_argument(
            "--fusion", choices=["usv", "fitted"], default="usv",
            help="usv: USV's MMF-Net weights 1/0.5/0.5 (visual/audio/text); fitted: weights fitted on val",
        )  # fmt: skip
        parser.add_argument("--queue", action="store_true", help="train on the ml queue instead of here")
        parser.add_argument("--no-score", action="store_true", help="do not score the videos afterwards")

    def handle(self, *args, **options):
        try:
            dataset = dataset_get(slug=options["dataset"])
            run = model_run_create(
                dataset=dataset, split_name=options["split"], modalities=options["modalities"],
                fusion=options["fusion"],
            )  # fmt: skip
        except CurationError as exc:
            raise CommandError(str(exc)) from None
        if options["queue"]:
            model_run_enqueue(run=run)
            self.stdout.write(f"{run.version}: queued on the ml queue")
            return
        bar = tqdm(total=100, desc="training", unit="%", file=self.stderr, disable=None)

        def progress(stage: str, share: float) -> None:
            bar.set_description(stage[:40])
            bar.update(round(share * 100) - bar.n)

        run = model_run_train(run_id=run.id, progress=progress, score=False)
        bar.close()
        if run.status != run.Status.DONE:
            raise CommandError(f"{run.version} failed: {run.error}")
        self.stdout.write(self._summary(run))
        if not options["no_score"]:
            scoring = tqdm(desc="scoring", unit="video", file=self.stderr, disable=None)

            def scored(done: int, total: int) -> None:
                scoring.total = total
                scoring.update(done - scoring.n)

            summary = dataset_score(dataset_id=dataset.id, run_id=run.id, progress=scored)
            scoring.close()
            self.stdout.write(f"scored: {summary.scored} scores stored ({', '.join(summary.versions)})")

    def _summary(self, run) -> str:
        metrics = run.metrics
        lines = [f"{run.version}: trained in {run.train_seconds:.1f} s"]
        if metrics.get("refused"):
            lines.append(f"accuracy not reported: {metrics['refused']}")
            return "\n".join(lines)
        rows = [(name, values) for name, values in metrics.get("branches", {}).items()]
        fused = metrics.get("fused", {})
        rows += [(f"fused ({kind})", fused[kind]) for kind in ("usv", "fitted") if kind in fused]
        lines.append(f"{'model':<18} {'val mca':>8} {'test mca':>9} {'test top5':>10} {'test mAP':>9}")
        for name, values in rows:
            cells = [_value(values, subset, name) for subset, name in COLUMNS]
            lines.append(f"{name:<18} {cells[0]:>8} {cells[1]:>9} {cells[2]:>10} {cells[3]:>9}")
        lines.append(f"fusion used: {metrics.get('used')}; better on val: {metrics.get('winner')}")
        thumbs = metrics.get("thumbnails") or {}
        if (thumbs.get("asbtv") or {}).get("n"):
            lines.append(
                f"thumbnail accuracy on val+test: ASBTv-like {thumbs['asbtv']['value']:.3f}, Random "
                f"{thumbs['random']['value']:.3f} (expected {thumbs['random_expected']:.3f}; "
                f"{thumbs['asbtv']['n']} videos with a ground truth)"
            )
        per_topic = metrics.get("per_topic", [])
        flagged = [t for t in per_topic if t.get("status") != "ok"]
        if flagged:
            lines.append("topics without a usable AP: " + json.dumps(
                {str(t.get("name", t.get("index"))): t.get("status") for t in flagged[:20]}
            ))  # fmt: skip
        return "\n".join(lines)


def _value(values: dict, subset: str, name: str) -> str:
    metric = (values.get(subset) or {}).get(name) or {}
    value = metric.get("value")
    return "—" if value is None else f"{value:.3f}"

from django.core.management.base import BaseCommand, CommandError

from curation.errors import CurationError
from curation.services.datasets import dataset_get
from curation.services.splits import ratios_far, split_make


class Command(BaseCommand):
    help = (
        "Make a named split version: stratified by topic, grouped by publisher and near-duplicate group, "
        "verified noise kept out of val/test (flagged in train), deterministic for a seed."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dataset", required=True, help="dataset slug")
        parser.add_argument("--name", required=True, help="version name, e.g. v1")
        parser.add_argument(
            "--ratios", default="0.8,0.1,0.1", help="0.8,0.1,0.1 (train,val,test) or train=0.7,val=0.15,..."
        )
        parser.add_argument("--seed", type=int, default=0)
        # No argparse choices: the service refuses an unknown method, and `model` with the reason.
        parser.add_argument("--method", help="whose verdicts decide noise: usv, mv or ds (default: latest)")
        parser.add_argument("--freeze", action="store_true", help="freeze the version (immutable)")
        parser.add_argument("--replace", action="store_true", help="remake an unfrozen version of this name")

    def handle(self, *args, **options):
        try:
            dataset = dataset_get(slug=options["dataset"])
            split = split_make(
                dataset=dataset,
                name=options["name"],
                ratios=options["ratios"],
                seed=options["seed"],
                freeze=options["freeze"],
                replace=options["replace"],
                verdict_method=options["method"],
            )
        except CurationError as exc:
            raise CommandError(str(exc)) from None
        stats = split.stats
        sizes = ", ".join(f"{name} {size}" for name, size in split.sizes.items())
        self.stdout.write(f"split {split.name} of {dataset.slug}: {sizes}")
        noise = (
            f"verified noise ({split.verdict_method}): {stats['excluded_noise']} kept out of val/test, "
            f"{stats['noise_kept_in_train']} kept (flagged) in train"
            if split.verdict_method
            else "no verdicts yet: nothing removed as noise"
        )
        self.stdout.write(noise)
        if stats["unreadable_left_out"]:
            self.stdout.write(f"{stats['unreadable_left_out']} unreadable video(s) (probe failed) left out")
        small = stats["small_topics"]
        if small:
            # One line for all of them: a dataset of many small topics would print a screenful.
            names = ", ".join(repr(topic["topic"]) for topic in small[:10])
            more = f" and {len(small) - 10} more" if len(small) > 10 else ""
            self.stderr.write(
                f"{len(small)} topic(s) have too few videos for one in every subset, so they are not "
                f"stratified: {names}{more}"
            )
        achieved = stats.get("achieved_ratios")
        if achieved and ratios_far(achieved=achieved, ratios=split.ratios):
            asked = ", ".join(f"{name} {share:.2f}" for name, share in split.ratios.items())
            made = ", ".join(f"{name} {share:.2f}" for name, share in achieved.items())
            self.stderr.write(
                f"warning: the subsets are far from the ratios asked (asked {asked}; made {made}): "
                "publishers and near-duplicate groups are never divided"
            )
        self.stdout.write("frozen: it never changes now" if split.is_frozen else "not frozen (freeze_split)")

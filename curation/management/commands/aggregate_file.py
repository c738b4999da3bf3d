from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from curation.errors import CurationError
from curation.services.labels.answers_file import REPEATED, answers_file_aggregate


class Command(BaseCommand):
    help = (
        "Aggregate an answers file (CSV/TSV: item,worker,label[,gold]) into verdicts "
        "(item,label,confidence) without touching the database."
    )

    def add_arguments(self, parser):
        parser.add_argument("answers", type=Path)
        parser.add_argument("--out", type=Path, required=True, help="verdicts file (.csv or .tsv)")
        parser.add_argument(
            "--method",
            choices=["auto", "usv", "mv", "ds"],
            default="auto",
            help="usv: two No ⇒ noise; mv: majority vote; ds: Dawid–Skene; auto (default): "
            "below 3 answers per item usv for yes/no(/unsure) answers and mv for other labels, ds from 3",
        )
        parser.add_argument(
            "--negative", help="the label that means No for --method usv (default: no/false/0)"
        )
        parser.add_argument(
            "--min-answers",
            type=int,
            default=1,
            help="answers an item needs to be judged (the task's overlap); fewer: pending (default 1)",
        )
        parser.add_argument(
            "--repeated",
            choices=REPEATED,
            default="refuse",
            help="a worker who answered the same item more than once: keep the first or the last "
            "answer, or all of them (each counts, as in crowd-kit); refuse (default) refuses the file",
        )

    def handle(self, *args, **options):
        try:
            summary = answers_file_aggregate(
                path=options["answers"],
                out=options["out"],
                method=options["method"],
                negative=options["negative"],
                repeated=options["repeated"],
                min_answers=options["min_answers"],
            )
        except CurationError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"{summary} -> {summary.out}")

"""Aggregate an answers file into a verdicts file, without the database (audits, comparisons).

In: CSV or TSV with a header naming `item`, `worker`, `label` and optionally `gold` (other
columns are ignored). Out: `item,label,confidence`, one row per item in first-seen order, and a
`verdict` column when the labels are topic answers (ml.verdicts: the verdicts `aggregate` stores). The
file is read as a stream into integer codes; a file with bad rows is refused whole, naming each
row by its line number, and the verdicts file appears only complete (written aside, then
renamed), so an audit never reads a half-written or partly aggregated result. Lines may end in
LF, CRLF or a bare CR; a row the csv module cannot read (a field over 128 KiB, broken quoting, a
NUL byte, bytes that are not UTF-8) is a bad row like the others. Text cells of the verdicts file
are neutralised against spreadsheet formulas (curation.lib.csvfiles).

A worker answering the same item more than once is refused by default (`repeated="refuse"`);
`first` or `last` keeps one answer per worker and item, `all` keeps every answer and each one
counts as a vote, as crowd-kit counts them (the maths in ml.aggregate works per answer row).
"""

import os
import tempfile
from array import array
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from curation.errors import CurationError
from curation.lib.csvfiles import SafeWriter, UnreadableFile, table_open
from ml.aggregate import NO_GOLD, AggregationError, Answers
from ml.verdicts import TOPIC_VERDICTS, Verdicts, verdicts_decide

REQUIRED = ("item", "worker", "label")
REPEATED = ("refuse", "first", "last", "all")
MAX_LISTED = 20


class AnswersFileError(CurationError):
    """The answers file cannot be aggregated; the message lists the bad rows by line."""


@dataclass
class AggregateFileSummary:
    method: str
    answers: int
    items: int
    workers: int
    classes: tuple
    gold_items: int
    label_counts: dict = field(default_factory=dict)
    iterations: int = 0
    out: Path | None = None
    repeated: "Repeats | None" = None

    def __str__(self) -> str:
        counts = ", ".join(f"{label}: {count}" for label, count in self.label_counts.items())
        extra = f", {self.iterations} EM iterations" if self.method == "ds" else ""
        repeats = f"; {self.repeated}" if self.repeated and self.repeated.rows else ""
        return (
            f"{self.items} items from {self.answers} answers by {self.workers} workers "
            f"({self.gold_items} with gold), method {self.method}{extra}{repeats}; verdicts {counts}"
        )


@dataclass(frozen=True)
class Repeats:
    """Answers that repeat a (worker, item) pair: what was found and what `policy` left out."""

    policy: str
    rows: int  # answers after the first of their pair
    pairs: int
    dropped: int

    def __str__(self) -> str:
        found = f"{self.rows} repeated answers ({self.pairs} worker–item pairs)"
        if self.policy == "all":
            return f"{found}, all counted"
        return f"{found}, {self.dropped} dropped (kept the {self.policy})"


def _class_order(value: str) -> tuple:
    try:
        return (0, float(value), value)
    except ValueError:
        return (1, 0.0, value)


def answers_file_read(path: Path, *, repeated: str = "refuse") -> tuple[Answers, Repeats]:
    path = Path(path)
    if repeated not in REPEATED:
        raise AnswersFileError(f"repeated must be one of {', '.join(REPEATED)}, not {repeated!r}")
    if not path.is_file():
        raise AnswersFileError(f"answers file {str(path)!r} does not exist")
    try:
        return _read(path, repeated)
    except UnreadableFile as exc:
        raise AnswersFileError(f"{path.name}: {exc}; nothing aggregated") from None


def _read(path: Path, repeated: str) -> tuple[Answers, Repeats]:
    table = table_open(path)
    if table.header_error:
        raise AnswersFileError(f"{path.name}: the header (line 1) cannot be read: {table.header_error}")
    header = [name.strip().lower() for name in table.header or []]
    missing = [name for name in REQUIRED if name not in header]
    if missing:
        raise AnswersFileError(
            f"{path.name}: the header must name the columns item, worker, label (and optionally gold); "
            f"missing {', '.join(missing)} in {header or 'an empty first line'}"
        )
    where = {name: header.index(name) for name in (*REQUIRED, "gold") if name in header}
    width = max(where.values()) + 1
    codes: dict[str, dict[str, int]] = {"item": {}, "worker": {}, "label": {}}
    columns = {name: array("q") for name in REQUIRED}
    line_numbers = array("q")
    gold: dict[int, tuple[str, int]] = {}
    errors: list[str] = []
    for row in table.rows:
        number = row.line
        if row.fields is None:
            errors.append(f"line {number}: {row.error}")
            continue
        if not any(cell.strip() for cell in row.fields):
            continue
        if len(row.fields) < width:
            errors.append(f"line {number}: {len(row.fields)} field(s), the header has {len(header)}")
            continue
        values = {name: row.fields[index].strip() for name, index in where.items()}
        if row.spanned(*values.values()):
            errors.append(
                f"line {number}: a quoted field runs on to line {row.last_line}; is a quote not closed?"
            )
            continue
        empty = [name for name in REQUIRED if not values[name]]
        if empty:
            errors.append(f"line {number}: empty {', '.join(empty)}")
            continue
        for name in REQUIRED:
            table_codes = codes[name]
            columns[name].append(table_codes.setdefault(values[name], len(table_codes)))
        line_numbers.append(number)
        known = values.get("gold", "")
        if known:
            item = columns["item"][-1]
            earlier = gold.setdefault(item, (known, number))
            if earlier[0] != known:
                errors.append(
                    f"line {number}: gold {known!r} for item {values['item']!r} contradicts "
                    f"{earlier[0]!r} on line {earlier[1]}"
                )
    if not errors and not line_numbers:
        raise AnswersFileError(f"{path.name}: no answers below the header")
    item = np.frombuffer(columns["item"], dtype=np.int64)
    worker = np.frombuffer(columns["worker"], dtype=np.int64)
    label = np.frombuffer(columns["label"], dtype=np.int64)
    lines = np.frombuffer(line_numbers, dtype=np.int64)
    keep, repeats, repeated_rows = _repeats(item, worker, lines, codes, repeated)
    if errors or repeated_rows:
        total = len(errors) + (repeats.rows if repeated_rows else 0)
        errors = sorted(
            errors + repeated_rows, key=lambda text: int(text.split(":", 1)[0].removeprefix("line "))
        )
        listed = "\n  ".join(errors[:MAX_LISTED])
        more = f"\n  … and {total - MAX_LISTED} more" if total > MAX_LISTED else ""
        hint = (
            f"\n{repeats.rows} row(s) repeat a worker's answer to the same item ({repeats.pairs} "
            "worker–item pair(s)): choose what to keep with --repeated first, last or all"
            if repeated_rows
            else ""
        )
        raise AnswersFileError(
            f"{path.name}: {total} bad row(s), nothing aggregated:\n  {listed}{more}{hint}"
        )
    if keep is not None:
        item, worker, label = item[keep], worker[keep], label[keep]

    # Classes are the labels of the answers kept (a label only a dropped repeat gave is none).
    names = list(codes["label"])
    classes = sorted(
        {names[k] for k in np.unique(label)} | {value for value, _ in gold.values()}, key=_class_order
    )
    position = {value: k for k, value in enumerate(classes)}
    remap = np.array([position.get(value, -1) for value in names], dtype=np.int64)
    gold_codes = np.full(len(codes["item"]), NO_GOLD, dtype=np.int64)
    for item_code, (value, _) in gold.items():
        gold_codes[item_code] = position[value]
    answers = Answers(
        item=item,
        worker=worker,
        label=remap[label],
        items=tuple(codes["item"]),
        workers=tuple(codes["worker"]),
        classes=tuple(classes),
        gold=gold_codes,
    )
    return answers, repeats


def _repeats(
    item: np.ndarray, worker: np.ndarray, lines: np.ndarray, codes: dict, policy: str
) -> tuple[np.ndarray | None, Repeats, list[str]]:
    """Which answers to keep (None: all), what repeats there were, and under `refuse` the first
    repeats as bad rows. Answers are in file order, so "first" and "last" are by line."""
    key = item * max(len(codes["worker"]), 1) + worker
    order = np.argsort(key, kind="stable")
    again = key[order][1:] == key[order][:-1]  # True where an answer repeats the one before it
    rows = int(again.sum())
    pairs = int((again & ~np.r_[False, again[:-1]]).sum()) if rows else 0
    if not rows or policy == "all":
        return None, Repeats(policy, rows, pairs, 0), []
    if policy == "refuse":  # each repeat is a bad row; the first MAX_LISTED by line are named
        later, earlier = order[1:][again], order[:-1][again]
        first = np.argsort(later, kind="stable")[:MAX_LISTED]
        items, workers = list(codes["item"]), list(codes["worker"])
        listed = [
            f"line {lines[later[k]]}: worker {workers[worker[later[k]]]!r} already answered item "
            f"{items[item[later[k]]]!r} on line {lines[earlier[k]]}"
            for k in first
        ]
        return None, Repeats(policy, rows, pairs, 0), listed
    dropped = order[1:][again] if policy == "first" else order[:-1][again]
    keep = np.ones(item.size, dtype=bool)
    keep[dropped] = False
    return keep, Repeats(policy, rows, pairs, int(dropped.size)), []


def _verdict_rows(result: Verdicts):
    """(item, label, confidence[, verdict]) per item; a pending item has no label or confidence."""
    classes, pending = result.answers.classes, result.pending.tolist()
    labels = ["" if k == NO_GOLD else classes[k] for k in result.reference.tolist()]
    confidence = ["" if p else f"{c:.4f}" for c, p in zip(result.confidence.tolist(), pending, strict=True)]
    columns = [result.answers.items, labels, confidence]
    if result.code is not None:
        columns.append(result.labels())
    return zip(*columns, strict=True)


def _tally(result: Verdicts) -> dict:
    """Verdicts per topic outcome, or per label (and pending) for labels that are not topic answers."""
    if result.code is not None:
        counts = np.bincount(result.code, minlength=len(TOPIC_VERDICTS))
        return {name: int(n) for name, n in zip(TOPIC_VERDICTS, counts, strict=True) if n}
    counts = np.bincount(result.reference[~result.pending], minlength=result.answers.n_classes)
    tally = {c: int(n) for c, n in zip(result.answers.classes, counts, strict=True)}
    return tally | ({"pending": int(result.pending.sum())} if result.pending.any() else {})


def answers_file_aggregate(
    *,
    path: Path,
    out: Path,
    method: str = "auto",
    negative: str | None = None,
    repeated: str = "refuse",
    min_answers: int = 1,
) -> AggregateFileSummary:
    """`min_answers`: an item with fewer answers is `pending` (not judged), as a video whose task
    lacks answers is in the database; a file states no overlap, so the default judges every item."""
    path, out = Path(path), Path(out)
    if min_answers < 0:
        raise AnswersFileError(f"min_answers must be 0 or more, not {min_answers}")
    if out.resolve() == path.resolve():
        raise AnswersFileError("the verdicts file must not overwrite the answers file")
    if not out.parent.is_dir():
        raise AnswersFileError(f"folder {str(out.parent)!r} for the verdicts file does not exist")
    answers, repeats = answers_file_read(path, repeated=repeated)
    try:
        result = verdicts_decide(answers, method, required=min_answers, negative=negative)
    except AggregationError as exc:
        raise AnswersFileError(f"{path.name}: {exc}") from None
    delimiter = "\t" if out.suffix.lower() == ".tsv" else ","
    handle, partial = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".partial")
    try:
        with os.fdopen(handle, "w", newline="", encoding="utf-8") as f:
            writer = SafeWriter(f, delimiter=delimiter, lineterminator="\n")
            writer.writerow(
                ("item", "label", "confidence", *(("verdict",) if result.code is not None else ()))
            )
            writer.writerows(_verdict_rows(result))
        os.chmod(partial, 0o644)  # mkstemp makes it private; a verdicts file is for sharing
        os.replace(partial, out)
    except BaseException:
        Path(partial).unlink(missing_ok=True)
        raise
    return AggregateFileSummary(
        method=result.method,
        answers=int(answers.item.size),
        items=answers.n_items,
        workers=len(answers.workers),
        classes=answers.classes,
        gold_items=int((answers.gold != NO_GOLD).sum()),
        label_counts=_tally(result),
        iterations=result.iterations,
        out=out,
        repeated=repeats,
    )

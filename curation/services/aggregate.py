"""Aggregate an answers file into a verdicts file, without the database (audits, comparisons).

In: CSV or TSV with a header naming `item`, `worker`, `label` and optionally `gold` (other
columns are ignored). Out: `item,label,confidence`, one row per item in first-seen order. The
file is read as a stream into integer codes; a file with bad rows is refused whole, naming each
row by its line number, and the verdicts file appears only complete (written aside, then
renamed), so an audit never reads a half-written or partly aggregated result.
"""

import csv
import os
import tempfile
from array import array
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from curation.errors import CurationError
from ml.aggregate import NO_GOLD, AggregationError, Answers, aggregate

REQUIRED = ("item", "worker", "label")
MAX_LISTED = 20
# Evidence (bench/bench_aggregate.py, simulated USV verification): with two answers per item
# majority vote beats Dawid–Skene; from three answers on, Dawid–Skene wins clearly.
DS_FROM_ANSWERS_PER_ITEM = 3.0


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

    def __str__(self) -> str:
        counts = ", ".join(f"{label}: {count}" for label, count in self.label_counts.items())
        extra = f", {self.iterations} EM iterations" if self.method == "ds" else ""
        return (
            f"{self.items} items from {self.answers} answers by {self.workers} workers "
            f"({self.gold_items} with gold), method {self.method}{extra}; verdicts {counts}"
        )


def _delimiter(path: Path, header: str) -> str:
    if path.suffix.lower() == ".tsv":
        return "\t"
    if path.suffix.lower() == ".csv":
        return ","
    return "\t" if "\t" in header else ","


def _lines(path: Path, errors: list[str]) -> Iterator[str]:
    """Decoded lines; a line that is not UTF-8 is reported and read as empty (csv skips it)."""
    with open(path, "rb") as f:
        for number, raw in enumerate(f, start=1):
            try:
                text = raw.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError as exc:
                errors.append(f"line {number}: not valid UTF-8 (byte 0x{raw[exc.start]:02x})")
                text = "\n"
            yield text


def _class_order(value: str) -> tuple:
    try:
        return (0, float(value), value)
    except ValueError:
        return (1, 0.0, value)


def answers_file_read(path: Path) -> Answers:
    path = Path(path)
    if not path.is_file():
        raise AnswersFileError(f"answers file {str(path)!r} does not exist")
    errors: list[str] = []
    lines = _lines(path, errors)
    header_line = next(lines, "")
    delimiter = _delimiter(path, header_line)
    header = [name.strip().lower() for name in next(csv.reader([header_line], delimiter=delimiter), [])]
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
    reader = csv.reader(lines, delimiter=delimiter)
    for row in reader:
        if not row or not any(cell.strip() for cell in row):
            continue
        number = reader.line_num + 1  # the header line was read before the reader started
        if len(row) < width:
            errors.append(f"line {number}: {len(row)} field(s), the header has {len(header)}")
            continue
        values = {name: row[index].strip() for name, index in where.items()}
        empty = [name for name in REQUIRED if not values[name]]
        if empty:
            errors.append(f"line {number}: empty {', '.join(empty)}")
            continue
        for name in REQUIRED:
            table = codes[name]
            columns[name].append(table.setdefault(values[name], len(table)))
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
    errors += _repeated_answers(item, worker, np.frombuffer(line_numbers, dtype=np.int64), codes)
    if errors:
        errors.sort(key=lambda text: int(text.split(":", 1)[0].removeprefix("line ")))
        listed = "\n  ".join(errors[:MAX_LISTED])
        more = f"\n  … and {len(errors) - MAX_LISTED} more" if len(errors) > MAX_LISTED else ""
        raise AnswersFileError(
            f"{path.name}: {len(errors)} bad row(s), nothing aggregated:\n  {listed}{more}"
        )

    classes = sorted(set(codes["label"]) | {value for value, _ in gold.values()}, key=_class_order)
    position = {value: k for k, value in enumerate(classes)}
    remap = np.array([position[value] for value in codes["label"]], dtype=np.int64)
    gold_codes = np.full(len(codes["item"]), NO_GOLD, dtype=np.int64)
    for item_code, (value, _) in gold.items():
        gold_codes[item_code] = position[value]
    return Answers(
        item=item,
        worker=worker,
        label=remap[np.frombuffer(columns["label"], dtype=np.int64)],
        items=tuple(codes["item"]),
        workers=tuple(codes["worker"]),
        classes=tuple(classes),
        gold=gold_codes,
    )


def _repeated_answers(item: np.ndarray, worker: np.ndarray, lines: np.ndarray, codes: dict) -> list[str]:
    """A worker answers an item once; a second answer is a data error, not an extra vote."""
    if item.size == 0:
        return []
    key = item * len(codes["worker"]) + worker
    order = np.argsort(key, kind="stable")
    repeated = np.flatnonzero(key[order][1:] == key[order][:-1]) + 1
    items, workers = list(codes["item"]), list(codes["worker"])
    return [
        f"line {lines[order[i]]}: worker {workers[worker[order[i]]]!r} already answered item "
        f"{items[item[order[i]]]!r} on line {lines[order[i - 1]]}"
        for i in repeated
    ]


def method_resolve(method: str, answers: Answers) -> str:
    if method != "auto":
        return method
    per_item = answers.item.size / max(answers.n_items, 1)
    return "ds" if per_item >= DS_FROM_ANSWERS_PER_ITEM else "mv"


def answers_file_aggregate(
    *, path: Path, out: Path, method: str = "auto", negative: str | None = None
) -> AggregateFileSummary:
    path, out = Path(path), Path(out)
    if out.resolve() == path.resolve():
        raise AnswersFileError("the verdicts file must not overwrite the answers file")
    if not out.parent.is_dir():
        raise AnswersFileError(f"folder {str(out.parent)!r} for the verdicts file does not exist")
    answers = answers_file_read(path)
    chosen = method_resolve(method, answers)
    try:
        result = aggregate(answers, chosen, negative=negative)
    except AggregationError as exc:
        raise AnswersFileError(f"{path.name}: {exc}") from None
    delimiter = "\t" if out.suffix.lower() == ".tsv" else ","
    handle, partial = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".partial")
    try:
        with os.fdopen(handle, "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f, delimiter=delimiter, lineterminator="\n")
            writer.writerow(("item", "label", "confidence"))
            labels = [answers.classes[k] for k in result.label]
            writer.writerows(zip(answers.items, labels, (f"{c:.4f}" for c in result.confidence), strict=True))
        os.chmod(partial, 0o644)  # mkstemp makes it private; a verdicts file is for sharing
        os.replace(partial, out)
    except BaseException:
        Path(partial).unlink(missing_ok=True)
        raise
    counts = np.bincount(result.label, minlength=answers.n_classes)
    return AggregateFileSummary(
        method=chosen,
        answers=int(answers.item.size),
        items=answers.n_items,
        workers=len(answers.workers),
        classes=answers.classes,
        gold_items=int((answers.gold != NO_GOLD).sum()),
        label_counts={c: int(n) for c, n in zip(answers.classes, counts, strict=True)},
        iterations=result.iterations,
        out=out,
    )

"""Import topic-verification answers from elsewhere (an earlier round, another tool).

A CSV or TSV file (by extension, else by the header: a tab means TSV) with a header naming the
video's external id (`video`, `video_id` or `item`), the worker (`worker`, `worker_id`), the
answer (`answer`, `label`) and optionally the known answer (`gold`). It is read as a stream and
stored in batches, all in one transaction: a crash stores nothing, and since importing is
idempotent the file can simply be imported again. A header without those columns, an empty file
or an unreadable header is refused before anything is stored. Bad rows are reported (line,
field, reason) and skipped; good rows are stored. An answer a worker already gave for a video
(in this file or an earlier import) is skipped when equal and a row error when different: an
import never overwrites an answer.
"""

import csv
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from django.db import transaction

from curation.errors import CurationError
from curation.models import EXTERNAL_ID_MAX_LENGTH, Dataset, ExternalAnswer, Video
from curation.services.manifests import RowError

BATCH = 5000
MAX_ERRORS_KEPT = 1000
COLUMNS = {
    "video": ("video", "video_id", "item", "item_id", "external_id"),
    "worker": ("worker", "worker_id", "annotator", "annotator_id"),
    "answer": ("answer", "label", "response"),
    "gold": ("gold", "gold_answer", "gold_label"),
}
REQUIRED = ("video", "worker", "answer")
ANSWERS = {
    "yes": ("yes", "y", "1", "true", "t", "on-topic", "on topic"),
    "no": ("no", "n", "0", "false", "f", "off-topic", "off topic", "noise"),
    "unsure": (
        "unsure", "u", "?", "can't tell", "cant tell", "cannot tell", "can not tell", "not sure",
        "don't know", "dont know", "unknown", "skip",
    ),
}  # fmt: skip
_NORMAL = {spelling: answer for answer, spellings in ANSWERS.items() for spelling in spellings}


class AnswersImportError(CurationError):
    """The file as a whole cannot be imported (missing, empty, wrong header); nothing was stored."""


@dataclass
class ImportSummary:
    source: str
    rows_read: int = 0
    created: int = 0
    unchanged: int = 0
    rejected: int = 0
    errors: list[RowError] = field(default_factory=list)

    def __str__(self) -> str:
        return (
            f"{self.source}: {self.rows_read} rows read, {self.created} answers imported, "
            f"{self.unchanged} already present, {self.rejected} rejected"
        )


def answer_normalise(value: str) -> str | None:
    """yes/no/unsure for the spellings we know (y/n, 1/0, true/false, "can't tell"…), else None."""
    return _NORMAL.get(" ".join(value.strip().lower().replace("’", "'").split()))


def _lines(path: Path, bad: dict[int, str]) -> Iterator[str]:
    """Decoded lines; one that is not UTF-8 is noted by its number and read as empty."""
    with open(path, "rb") as f:
        for number, raw in enumerate(f, start=1):
            try:
                yield raw.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError as exc:
                bad[number] = f"not valid UTF-8 (byte 0x{raw[exc.start]:02x} at column {exc.start + 1})"
                yield "\n"


def _header(path: Path, line: str) -> tuple[str, dict[str, int]]:
    suffix = path.suffix.lower()
    delimiter = "\t" if suffix == ".tsv" or (suffix != ".csv" and "\t" in line) else ","
    names = [
        n.strip().lower().replace(" ", "_").replace("-", "_")
        for n in next(csv.reader([line], delimiter=delimiter), [])
    ]
    where: dict[str, int] = {}
    for column, aliases in COLUMNS.items():
        found = [i for i, name in enumerate(names) if name in aliases]
        if len(found) > 1:
            raise AnswersImportError(
                f"{path.name}: the header names the {column} column twice "
                f"({', '.join(names[i] for i in found)}); keep one"
            )
        if found:
            where[column] = found[0]
    missing = [c for c in REQUIRED if c not in where]
    if missing:
        wanted = "; ".join(f"{c}: {' or '.join(COLUMNS[c])}" for c in missing)
        raise AnswersImportError(
            f"{path.name}: the header lacks the column(s) {', '.join(missing)} ({wanted}); "
            f"it has {names or 'nothing'}. Nothing was imported."
        )
    return delimiter, where


@dataclass
class _Pending:
    line: int
    external_id: str
    worker: str
    label: str
    gold: str


class _Importer:
    def __init__(self, dataset: Dataset, source: str, summary: ImportSummary):
        self.dataset, self.source, self.summary = dataset, source, summary
        self.seen: dict[tuple[int, str], tuple[str, int]] = {}  # (video, worker) → (answer, line)
        self.gold: dict[int, tuple[str, int]] = {}  # video → (gold, line; 0 = an earlier import)

    def reject(self, line: int, column: str, reason: str, item: str = "") -> None:
        self.summary.rejected += 1
        if len(self.summary.errors) < MAX_ERRORS_KEPT:
            self.summary.errors.append(RowError(line, column, reason, item))

    def flush(self, batch: list[_Pending]) -> None:
        ids = {p.external_id for p in batch}
        videos = dict(
            Video.objects.filter(dataset=self.dataset, external_id__in=ids).values_list("external_id", "id")
        )
        stored: dict[tuple[int, str], str] = {}
        for video_id, worker, label, gold in ExternalAnswer.objects.filter(
            dataset=self.dataset, video_id__in=videos.values()
        ).values_list("video_id", "worker", "label", "gold"):
            stored[(video_id, worker)] = label
            if gold:
                self.gold.setdefault(video_id, (gold, 0))
        new = []
        for p in batch:
            video_id = videos.get(p.external_id)
            if video_id is None:
                self.reject(p.line, "video", f"no video {p.external_id!r} in dataset {self.dataset.slug}")
                continue
            key = (video_id, p.worker)
            earlier = stored.get(key)
            if earlier is None and key in self.seen:
                earlier = self.seen[key][0]
            if earlier is not None:
                if earlier == p.label:
                    self.summary.unchanged += 1
                else:
                    where = f"line {self.seen[key][1]}" if key in self.seen else "an earlier import"
                    self.reject(
                        p.line, "answer", f"worker {p.worker!r} already answered {earlier!r} for video "
                        f"{p.external_id!r} ({where}); an import does not overwrite answers", p.external_id,
                    )  # fmt: skip
                continue
            if p.gold:
                known, line = self.gold.setdefault(video_id, (p.gold, p.line))
                if known != p.gold:
                    where = f"line {line}" if line else "an earlier import"
                    self.reject(
                        p.line, "gold", f"gold {p.gold!r} for video {p.external_id!r} contradicts "
                        f"{known!r} ({where})", p.external_id,
                    )  # fmt: skip
                    continue
            self.seen[key] = (p.label, p.line)
            new.append(
                ExternalAnswer(
                    dataset=self.dataset, video_id=video_id, worker=p.worker, label=p.label, gold=p.gold,
                    source=self.source,
                )
            )  # fmt: skip
        ExternalAnswer.objects.bulk_create(new, batch_size=BATCH)
        self.summary.created += len(new)


@transaction.atomic
def answers_import(*, dataset: Dataset, path: Path) -> ImportSummary:
    path = Path(path)
    if not path.is_file():
        raise AnswersImportError(f"answers file {str(path)!r} does not exist")
    bad: dict[int, str] = {}
    lines = _lines(path, bad)
    first = next(lines, None)
    if first is None or not first.strip():
        raise AnswersImportError(
            f"{path.name}: the file is empty{' or its header is not UTF-8' if bad else ''}"
        )
    delimiter, where = _header(path, first)
    summary = ImportSummary(source=path.name[:255])
    importer = _Importer(dataset, summary.source, summary)
    width = max(where.values()) + 1
    batch: list[_Pending] = []
    reader = csv.reader(lines, delimiter=delimiter)
    for row in reader:
        line = reader.line_num + 1  # the header was read before the reader started
        if line in bad:
            summary.rows_read += 1
            importer.reject(line, "line", bad.pop(line))
            continue
        if not row or not any(cell.strip() for cell in row):
            continue
        summary.rows_read += 1
        if len(row) < width:
            importer.reject(line, "line", f"{len(row)} field(s); the header needs at least {width}")
            continue
        values = {name: row[i].strip() for name, i in where.items()}
        item = values["video"]
        if not item:
            importer.reject(line, "video", "empty video id")
            continue
        if not values["worker"] or len(values["worker"]) > EXTERNAL_ID_MAX_LENGTH:
            importer.reject(line, "worker", "empty worker id" if not values["worker"] else
                            f"worker id longer than {EXTERNAL_ID_MAX_LENGTH} characters", item)  # fmt: skip
            continue
        label = answer_normalise(values["answer"])
        if label is None:
            importer.reject(
                line, "answer", f"{values['answer']!r} is not an answer we understand (yes/no/unsure, y/n, "
                "1/0, true/false, can't tell)", item,
            )  # fmt: skip
            continue
        gold = ""
        if values.get("gold"):
            gold = answer_normalise(values["gold"]) or ""
            if not gold:
                importer.reject(line, "gold", f"{values['gold']!r} is not a gold answer we understand", item)
                continue
        batch.append(_Pending(line, item, values["worker"], label, gold))
        if len(batch) >= BATCH:
            importer.flush(batch)
            batch = []
    if batch:
        importer.flush(batch)
    if not summary.rows_read:
        raise AnswersImportError(f"{path.name}: no answers below the header; nothing was imported")
    summary.errors.sort(key=lambda e: e.row)
    return summary

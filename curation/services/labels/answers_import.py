"""Import topic-verification answers from elsewhere (an earlier round, another tool).

A CSV or TSV file (by extension, else by the header: a tab means TSV) with a header naming the
video's external id (`video`, `video_id` or `item`), the worker (`worker`, `worker_id`), the
answer (`answer`, `label`) and optionally the known answer (`gold`). It is read as a stream and
stored in batches, all in one transaction: a crash stores nothing, and since importing is
idempotent the file can simply be imported again. A header without those columns, an empty file
or an unreadable header is refused before anything is stored. Bad rows are reported (line,
field, reason) and skipped; good rows are stored. An answer a worker already gave for a video
in an earlier import is skipped when equal and a row error when different: an import never
overwrites an answer.

Lines may end in LF, CRLF or a bare CR. A row the csv module cannot read (a field over 128 KiB,
broken quoting, a NUL byte, bytes that are not UTF-8) is a bad row like the others; a quote that
is never closed leaves the rest of the file unreadable, so the file is refused and nothing stored.

A worker who answered the same video more than once in the file (public crowd data often has
such rows) gets one answer stored, since the database keeps one per worker and video: `repeated`
says which (`first` or `last`), decided by a first read of the file. With `refuse` (the default)
repeats with a different answer refuse the file before anything is stored; the same answer again
is simply left out. `all` (which `aggregate_file` offers, counting every answer as crowd-kit
does) cannot be stored.
"""

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from django.db import transaction

from curation.errors import CurationError
from curation.lib.csvfiles import Table, UnreadableFile, table_open
from curation.models import EXTERNAL_ID_MAX_LENGTH, Dataset, ExternalAnswer, Video
from curation.services.ingest.manifests import RowError

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


REPEATED = ("refuse", "first", "last", "all")


@dataclass
class ImportSummary:
    source: str
    rows_read: int = 0
    created: int = 0
    unchanged: int = 0
    rejected: int = 0
    repeated: int = 0  # rows left out because the same worker answered the same video again
    repeated_policy: str = "refuse"
    errors: list[RowError] = field(default_factory=list)

    def __str__(self) -> str:
        text = (
            f"{self.source}: {self.rows_read} rows read, {self.created} answers imported, "
            f"{self.unchanged} already present, {self.rejected} rejected"
        )
        if self.repeated:
            why = (
                "the same answer again"
                if self.repeated_policy == "refuse"
                else f"kept the {self.repeated_policy}"
            )
            text += f", {self.repeated} repeated answers left out ({why})"
        return text


def answer_normalise(value: str) -> str | None:
    """yes/no/unsure for the spellings we know (y/n, 1/0, true/false, "can't tell"…), else None."""
    return _NORMAL.get(" ".join(value.strip().lower().replace("’", "'").split()))


def _header(path: Path, table: Table) -> dict[str, int]:
    if table.header is None or not (table.header_error or any(n.strip() for n in table.header)):
        raise AnswersImportError(f"{path.name}: the file is empty; nothing was imported")
    if table.header_error:
        raise AnswersImportError(
            f"{path.name}: the header (line 1) cannot be read: {table.header_error}. Nothing was imported."
        )
    names = [n.strip().lower().replace(" ", "_").replace("-", "_") for n in table.header]
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
    return where


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
            earlier = stored.get((video_id, p.worker))
            if earlier is not None:
                if earlier == p.label:
                    self.summary.unchanged += 1
                else:
                    self.reject(
                        p.line, "answer", f"worker {p.worker!r} already answered {earlier!r} for video "
                        f"{p.external_id!r} (an earlier import); an import does not overwrite answers",
                        p.external_id,
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
            new.append(
                ExternalAnswer(
                    dataset=self.dataset, video_id=video_id, worker=p.worker, label=p.label, gold=p.gold,
                    source=self.source,
                )
            )  # fmt: skip
        ExternalAnswer.objects.bulk_create(new, batch_size=BATCH)
        self.summary.created += len(new)


def _answers(table: Table, where: dict[str, int]) -> Iterator[_Pending | RowError]:
    """Every row below the header that is not blank, as an answer to store or as its error."""
    width = max(where.values()) + 1
    for row in table.rows:
        line = row.line
        if row.fields is None:
            yield RowError(line, "line", row.error)
            continue
        if not any(cell.strip() for cell in row.fields):
            continue
        if len(row.fields) < width:
            yield RowError(line, "line", f"{len(row.fields)} field(s); the header needs at least {width}")
            continue
        values = {name: row.fields[i].strip() for name, i in where.items()}
        if row.spanned(*values.values()):
            yield RowError(
                line, "line", f"a quoted field runs on to line {row.last_line}; is a quote not closed?"
            )
            continue
        item = values["video"]
        if not item:
            yield RowError(line, "video", "empty video id")
            continue
        if not values["worker"] or len(values["worker"]) > EXTERNAL_ID_MAX_LENGTH:
            yield RowError(line, "worker", "empty worker id" if not values["worker"] else
                           f"worker id longer than {EXTERNAL_ID_MAX_LENGTH} characters", item)  # fmt: skip
            continue
        label = answer_normalise(values["answer"])
        if label is None:
            yield RowError(
                line, "answer", f"{values['answer']!r} is not an answer we understand (yes/no/unsure, y/n, "
                "1/0, true/false, can't tell)", item,
            )  # fmt: skip
            continue
        gold = ""
        if values.get("gold"):
            gold = answer_normalise(values["gold"]) or ""
            if not gold:
                yield RowError(line, "gold", f"{values['gold']!r} is not a gold answer we understand", item)
                continue
        yield _Pending(line, item, values["worker"], label, gold)


def _repeats_left_out(path: Path, where: dict[str, int], repeated: str) -> set[int]:
    """Lines whose answer another row of the file gives again for the same worker and video.

    A first read of the file, so that `last` knows which row is last and `refuse` refuses before
    anything is stored.
    """
    kept: dict[tuple[str, str], tuple[int, str]] = {}  # (video, worker) → (line, answer) kept
    first: dict[tuple[str, str], str] = {}  # the first answer of each repeated pair
    left_out: set[int] = set()
    conflicts, pairs, example = 0, set(), ""
    for p in _answers(_table(path), where):
        if isinstance(p, RowError):
            continue
        key = (p.external_id, p.worker)
        earlier = kept.get(key)
        if earlier is None:
            kept[key] = (p.line, p.label)
            continue
        answer = first.setdefault(key, earlier[1])
        if repeated == "last":
            left_out.add(earlier[0])
            kept[key] = (p.line, p.label)
        else:
            left_out.add(p.line)
        if repeated == "refuse" and p.label != answer:
            conflicts += 1
            pairs.add(key)
            example = example or (
                f"line {p.line}: worker {p.worker!r} answered {p.label!r} for video {p.external_id!r} after "
                f"{answer!r} on line {earlier[0]}"
            )
    if conflicts:
        raise AnswersImportError(
            f"{path.name}: {conflicts} row(s) repeat a worker's answer for a video with a different answer "
            f"({len(pairs)} worker–video pair(s); first {example}). The database keeps one answer per "
            "worker and video: choose which with --repeated first or --repeated last. Nothing was imported."
        )
    return left_out


def _table(path: Path) -> Table:
    try:
        return table_open(path)
    except OSError as exc:
        raise AnswersImportError(f"{path.name}: cannot be read ({exc.strerror})") from None


@transaction.atomic
def answers_import(*, dataset: Dataset, path: Path, repeated: str = "refuse") -> ImportSummary:
    path = Path(path)
    if repeated not in REPEATED:
        raise AnswersImportError(f"repeated must be one of {', '.join(REPEATED)}, not {repeated!r}")
    if repeated == "all":
        raise AnswersImportError(
            "--repeated all cannot be imported: the database keeps one answer per worker and video. "
            "Choose --repeated first or last, or aggregate the file as it is with "
            "aggregate_file --repeated all."
        )
    if not path.is_file():
        raise AnswersImportError(f"answers file {str(path)!r} does not exist")
    table = _table(path)
    where = _header(path, table)
    summary = ImportSummary(source=path.name[:255], repeated_policy=repeated)
    importer = _Importer(dataset, summary.source, summary)
    try:
        left_out = _repeats_left_out(path, where, repeated)
        batch: list[_Pending] = []
        for answer in _answers(table, where):
            summary.rows_read += 1
            if isinstance(answer, RowError):
                importer.reject(answer.row, answer.field, answer.reason, answer.item)
            elif answer.line in left_out:
                summary.repeated += 1
            else:
                batch.append(answer)
                if len(batch) >= BATCH:
                    importer.flush(batch)
                    batch = []
        if batch:
            importer.flush(batch)
    except UnreadableFile as exc:
        # Raised before or during storing: the transaction takes back whatever was stored.
        raise AnswersImportError(f"{path.name}: {exc}. Nothing was imported.") from None
    if not summary.rows_read:
        raise AnswersImportError(f"{path.name}: no answers below the header; nothing was imported")
    summary.errors.sort(key=lambda e: e.row)
    return summary

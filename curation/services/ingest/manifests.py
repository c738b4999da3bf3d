"""Read a manifest as a stream of (row number, fields) or (row number, RowError).

JSONL and CSV are read line by line (constant memory); a folder of videos is walked in name
order, the first sub-folder naming the topic (Kinetics / ImageFolder layout).
"""

import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson

from curation.errors import ManifestError
from curation.lib.csvfiles import UnreadableFile, table_open

VIDEO_EXTENSIONS = {
    ".mp4", ".m4v", ".mov", ".avi", ".mkv", ".webm", ".mpg", ".mpeg", ".flv", ".3gp", ".ts", ".wmv",
}  # fmt: skip
REQUIRED_FIELD = "video"
_BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True)
class RowError:
    row: int
    field: str
    reason: str
    item: str = ""

    def __str__(self) -> str:
        item = f" ({self.item})" if self.item else ""
        return f"row {self.row}{item}, field {self.field}: {self.reason}"


Row = tuple[int, dict | RowError]
Progress = Callable[[int], None]


def manifest_format(path: Path) -> str:
    if path.is_dir():
        return "folder"
    suffix = path.suffix.lower()
    if suffix in {".jsonl", ".ndjson", ".json"}:
        return "jsonl"
    if suffix in {".csv", ".tsv"}:
        return "csv"
    raise ManifestError(f"{path.name}: unknown manifest type {suffix!r} (use .jsonl, .csv or a folder)")


def manifest_rows(path: Path, progress: Progress | None = None) -> Iterator[Row]:
    path = Path(path)
    if not path.exists():
        raise ManifestError(f"manifest {str(path)!r} does not exist")
    kind = manifest_format(path)
    if kind == "folder":
        return _folder_rows(path, progress)
    if kind == "jsonl":
        return _jsonl_rows(path, progress)
    return _csv_rows(path, progress)


def _utf8_error(exc: UnicodeDecodeError) -> str:
    return f"not valid UTF-8 (byte 0x{exc.object[exc.start]:02x} at position {exc.start})"


def _jsonl_rows(path: Path, progress: Progress | None) -> Iterator[Row]:
    with open(path, "rb") as f:
        for number, raw in enumerate(f, start=1):
            if progress:
                progress(len(raw))
            if number == 1 and raw.startswith(_BOM):  # Windows editors start files with one
                raw = raw[len(_BOM) :]
            if not raw.strip():
                continue
            try:  # the common case, fast: orjson reads the bytes and checks their UTF-8
                record = orjson.loads(raw)
            except orjson.JSONDecodeError:
                pass  # below: the standard library names the problem and its column
            else:
                if isinstance(record, dict):
                    yield number, record
                    continue
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                yield number, RowError(number, "-", _utf8_error(exc))
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                near = line[max(0, exc.pos - 20) : exc.pos].lstrip()
                where = f"at character {exc.colno} of the line, after {near!r}" if near else "at its start"
                yield number, RowError(number, "-", f"malformed JSON: {exc.msg} {where}")
                continue
            if not isinstance(record, dict):
                yield number, RowError(number, "-", f"expected a JSON object, got {type(record).__name__}")
                continue
            yield number, record


def _csv_rows(path: Path, progress: Progress | None) -> Iterator[Row]:
    # The answers files' reader: bare-CR line endings, over-long fields, broken quoting, NUL
    # bytes and bad UTF-8 become a bad row (by line) instead of a traceback.
    table = table_open(path, progress)
    if table.header is None:
        raise ManifestError(f"{path.name} is empty: no header row")
    if table.header_error:
        raise ManifestError(f"{path.name}: the header line cannot be read: {table.header_error}")
    header = [name.strip().lstrip("\ufeff") for name in table.header]
    if REQUIRED_FIELD not in header or len(set(header)) != len(header) or "" in header:
        raise ManifestError(
            f"{path.name}: wrong CSV header {header!r}: it needs a {REQUIRED_FIELD!r} column "
            "and unique, non-empty column names"
        )
    try:
        for row in table.rows:
            number, values = row.line, row.fields
            if values is None:
                yield number, RowError(number, "-", row.error)
                continue
            if not any(v.strip() for v in values):
                continue
            if len(values) != len(header):
                yield (
                    number,
                    RowError(number, "-", f"{len(values)} fields where the header has {len(header)}"),
                )
                continue
            yield number, {k: v for k, v in zip(header, values, strict=True) if v != ""}
    except UnreadableFile as exc:
        raise ManifestError(f"{path.name}: {exc}") from None


def _folder_rows(root: Path, progress: Progress | None) -> Iterator[Row]:
    number = 0
    for directory, subdirs, files in os.walk(root, followlinks=False):
        subdirs.sort()
        for name in sorted(files):
            if Path(name).suffix.lower() not in VIDEO_EXTENSIONS:
                continue
            number += 1
            if progress:
                progress(1)
            full = Path(directory) / name
            relative = full.relative_to(root)
            row = {"video": str(full), "id": str(relative.with_suffix(""))}
            if len(relative.parts) > 1:
                row["topic"] = relative.parts[0]
            yield number, row


def manifest_size(path: Path) -> tuple[int, str]:
    """What a progress bar counts to: bytes of a file, videos in a folder."""
    if path.is_dir():
        count = sum(
            1
            for _, _, files in os.walk(path)
            for name in files
            if Path(name).suffix.lower() in VIDEO_EXTENSIONS
        )
        return count, "videos"
    return path.stat().st_size, "B"

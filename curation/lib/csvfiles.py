"""CSV/TSV files people bring (answers files, manifests) and take away (exports, verdicts). Plain Python.

Reading: `table_open` reads a file as a stream of rows that each carry their line number, and
turns what the csv module would raise mid-file (a field over its 128 KiB limit, broken quoting)
or pass on silently (a NUL byte, bytes that are not UTF-8) into a reason for that row, so a
caller reports it like any other bad row. Lines end at LF, CRLF or a bare CR (old Mac and some
spreadsheet exports). A quote that is never closed swallows the rest of the file into one field;
that file cannot be read row by row at all, so it raises `UnreadableFile` naming the line.

Writing: `SafeWriter` writes every text cell quoted and neutralises spreadsheet formulas the way
OWASP's "CSV Injection" page says: a text cell that begins with `=`, `+`, `-`, `@`, tab or CR
(and NUL, which ASVS 1.2.10 adds) gets a leading `'`, so Excel, LibreOffice and Google Sheets
show it as text instead of running it; quoting every text cell keeps a `,` or `;` inside a
value from starting a new cell (where a formula could begin) in a spreadsheet that splits on
the other separator. Numbers stay bare and unchanged: a number cannot be a formula, and `-3`
must still read as -3.
"""

import csv
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

FIELD_LIMIT = csv.field_size_limit()  # 131,072 characters unless someone raised it
MAX_LINE_BYTES = 1 << 20  # no row of an answers file comes near; longer lines are not held
CHUNK = 1 << 20
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\0")
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


class UnreadableFile(ValueError):
    def __init__(self, line: int, reason: str):
        super().__init__(f"line {line}: {reason}")
        self.line, self.reason = line, reason


@dataclass(slots=True)
class Row:
    line: int  # where the row starts
    fields: list[str] | None  # None when the row cannot be read; `error` says why
    error: str = ""
    last_line: int = 0  # where it ends: later than `line` when a quoted field holds a line break

    def spanned(self, *values: str) -> bool:
        """Whether one of these values holds a line break, read from a quote over several lines."""
        return self.last_line > self.line and any("\n" in value for value in values)


@dataclass
class Table:
    header: list[str] | None  # None: the file is empty
    header_error: str  # why the first line cannot be read ("" when it can)
    delimiter: str
    rows: Iterator[Row]


def delimiter_guess(path: Path, header_line: str) -> str:
    """By the extension (.tsv, .csv), else a tab in the header means TSV."""
    suffix = Path(path).suffix.lower()
    if suffix in (".tsv", ".csv"):
        return "\t" if suffix == ".tsv" else ","
    return "\t" if "\t" in header_line else ","


def _raw_lines(f, progress: Callable[[int], None] | None = None) -> Iterator[list[bytes | None]]:
    """The file's lines without their endings (LF, CRLF or CR), a list per chunk read; None
    stands for a line over MAX_LINE_BYTES. `progress` is told the bytes of each chunk."""
    carry, overlong, after_cr = b"", False, False
    while chunk := f.read(CHUNK):
        if progress:
            progress(len(chunk))
        if after_cr and chunk.startswith(b"\n"):  # a CRLF split across two chunks
            chunk = chunk[1:]
        after_cr = chunk.endswith(b"\r")
        pieces = chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n")
        pieces[0] = carry + pieces[0]
        carry = pieces.pop()
        if overlong and pieces:
            pieces[0], overlong = None, False
        if pieces:
            yield [None if piece is not None and len(piece) > MAX_LINE_BYTES else piece for piece in pieces]
        if len(carry) > MAX_LINE_BYTES:
            carry, overlong = b"", True
    if carry or overlong:
        yield [None if overlong else carry]


def _decoded(raw: bytes | None, number: int) -> tuple[str, str]:
    """(text, "") or ("", why the line cannot be used)."""
    if raw is None:
        return "", f"line longer than {MAX_LINE_BYTES} bytes"
    try:
        text = raw.decode("utf-8-sig" if number == 1 else "utf-8")
    except UnicodeDecodeError as exc:
        return "", f"not valid UTF-8 (byte 0x{raw[exc.start]:02x} at column {exc.start + 1})"
    if "\0" in text:
        return "", f"a NUL byte at column {text.index(chr(0)) + 1} (is the file UTF-16 or binary?)"
    return text, ""


def _text_lines(f, bad: dict[int, str], progress: Callable[[int], None] | None = None) -> Iterator[str]:
    """Decoded lines ending in "\n"; one that cannot be used is noted in `bad` by its number and
    read as empty. A chunk's lines are decoded at once when they can be (the common case)."""
    number = 0
    for raws in _raw_lines(f, progress):
        if None not in raws:
            try:
                text = b"\n".join(raws).decode("utf-8-sig" if number == 0 else "utf-8")
            except UnicodeDecodeError:
                text = "\0"
            if "\0" not in text:
                number += len(raws)
                yield from [line + "\n" for line in text.split("\n")]
                continue
        for raw in raws:
            number += 1
            text, error = _decoded(raw, number)
            if error:
                bad[number] = error
            yield text + "\n"


def _rows(lines: Iterator[str], delimiter: str, bad: dict[int, str]) -> Iterator[Row]:
    """Rows below the header, which `lines` has already given."""
    reader = csv.reader(lines, delimiter=delimiter, strict=True)
    start = 2
    while True:
        try:
            for fields in reader:
                end = reader.line_num + 1
                if bad and (errors := [bad.pop(n) for n in range(start, end + 1) if n in bad]):
                    yield Row(start, None, errors[0], end)
                else:
                    yield Row(start, fields, "", end)
                start = end + 1
            return
        except csv.Error as exc:
            end = reader.line_num + 1
            if "unexpected end of data" in str(exc):
                raise UnreadableFile(
                    start, f"a quote opened on this line is never closed, so lines {start}–{end} "
                    "would be one field; close the quote (or double it, \"\", inside a quoted field)",
                ) from None  # fmt: skip
            over = f" (lines {start}–{end}: is a quote not closed?)" if end > start else ""
            if "field larger than field limit" in str(exc):
                reason = f"a field longer than {csv.field_size_limit()} characters{over}"
            else:
                reason = f"not readable as CSV: {exc}{over}"
            bad.pop(start, None)
            yield Row(start, None, reason, end)
            start = end + 1


def table_open(path: Path, progress: Callable[[int], None] | None = None) -> Table:
    """The header (from the first line) and the rows below it, read lazily; `progress` is told
    the bytes read."""
    f = open(path, "rb")  # noqa: SIM115 - closed when the rows are exhausted or collected
    bad: dict[int, str] = {}
    lines = _text_lines(f, bad, progress)
    first = next(lines, None)
    if first is None:
        f.close()
        return Table(None, "", ",", iter(()))
    error = bad.pop(1, "")
    delimiter = delimiter_guess(path, first)
    header: list[str] = []
    if not error:
        try:
            header = next(csv.reader([first], delimiter=delimiter, strict=True), [])
        except csv.Error as exc:
            error = f"not readable as CSV: {exc}"

    def rows() -> Iterator[Row]:
        with f:
            yield from _rows(lines, delimiter, bad)

    return Table(header, error, delimiter, rows())


def csv_cell(value) -> str:
    """One cell as written: text quoted, and prefixed with `'` where it would start a formula."""
    if value is None:
        return ""
    if isinstance(value, bool | int | float):
        return str(value)
    text = str(value)
    if _NUMBER.fullmatch(text):
        return text
    if text.startswith(FORMULA_START):
        text = "'" + text
    return '"' + text.replace('"', '""') + '"'


class SafeWriter:
    """A `csv.writer` stand-in for every CSV this project writes (see the module's docstring)."""

    def __init__(self, f, *, delimiter: str = ",", lineterminator: str = "\r\n"):
        self.f, self.delimiter, self.lineterminator = f, delimiter, lineterminator

    def writerow(self, row: Iterable) -> None:
        self.f.write(self.delimiter.join(map(csv_cell, row)) + self.lineterminator)

    def writerows(self, rows: Iterable[Iterable]) -> None:
        for row in rows:
            self.writerow(row)

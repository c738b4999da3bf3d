"""CSV/TSV files people bring (answers files) and take away (exports, verdicts). Plain Python.

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
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import chain
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


@dataclass(frozen=True)
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


def _physical_lines(f) -> Iterator[bytes | None]:
    """Lines without their ending (LF, CRLF or CR); None for one over MAX_LINE_BYTES."""
    carry, overlong, after_cr = b"", False, False
    while chunk := f.read(CHUNK):
        if after_cr and chunk.startswith(b"\n"):  # a CRLF split across two chunks
            chunk = chunk[1:]
        after_cr = chunk.endswith(b"\r")
        pieces = chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n")
        pieces[0] = carry + pieces[0]
        for piece in pieces[:-1]:
            yield None if overlong or len(piece) > MAX_LINE_BYTES else piece
            overlong = False
        carry = pieces[-1]
        if len(carry) > MAX_LINE_BYTES:
            carry, overlong = b"", True
    if carry or overlong:
        yield None if overlong else carry


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


def _rows(lines: Iterator[tuple[int, str, str]], delimiter: str) -> Iterator[Row]:
    bad: dict[int, str] = {}

    def texts() -> Iterator[str]:
        for number, text, error in lines:
            if error:
                bad[number] = error
            yield text + "\n"  # a bad line reads as an empty one; its reason is reported below

    reader = csv.reader(texts(), delimiter=delimiter, strict=True)
    while True:
        start = reader.line_num + 1
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            end = reader.line_num
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
            yield Row(start, None, reason, end)
            continue
        end = reader.line_num
        if bad:
            errors = [bad.pop(n) for n in range(start, end + 1) if n in bad]
            if errors:
                yield Row(start, None, errors[0], end)
                continue
        yield Row(start, fields, "", end)


def table_open(path: Path) -> Table:
    """The header (from the first line) and the rows below it, read lazily."""
    f = open(path, "rb")  # noqa: SIM115 - closed when the rows are exhausted or collected
    numbered = ((number, *_decoded(raw, number)) for number, raw in enumerate(_physical_lines(f), start=1))
    first = next(numbered, None)
    if first is None:
        f.close()
        return Table(None, "", ",", iter(()))
    _, text, error = first
    delimiter = delimiter_guess(path, text)
    header: list[str] | None = []
    if not error:
        try:
            header = next(csv.reader([text], delimiter=delimiter, strict=True), [])
        except csv.Error as exc:
            error = f"not readable as CSV: {exc}"

    def rows() -> Iterator[Row]:
        with f:
            # The header is line 1 of the reader, so its line numbers are the file's.
            for row in _rows(chain([(1, "", "")], numbered), delimiter):
                if row.line > 1:
                    yield row

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

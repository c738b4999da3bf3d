"""Malformed answer files through `import_answers` and `aggregate_file`: a line and a reason, never a
traceback, and nothing stored is lost or half-written."""

import re
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from tests.curation.labels_helpers import earlier_fixture, make_videos, stored  # noqa: F401 (a fixture)

BIG = b"x" * (128 * 1024 + 1)  # one character over csv's default field limit


def import_answers(dataset, path, *args) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("import_answers", "--dataset", dataset.slug, *args, str(path), stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def aggregate_file(path, out, *args) -> str:
    stdout = StringIO()
    call_command("aggregate_file", str(path), "--out", str(out), "--method", "mv", *args, stdout=stdout)
    return stdout.getvalue()


@pytest.mark.django_db
def test_import_reads_bare_cr_line_endings_as_line_breaks(earlier, tmp_path):
    path = tmp_path / "mac.csv"
    path.write_bytes(b"video,worker,answer\rv1,w1,yes\rv2,w1,no\r")
    out, err = import_answers(earlier, path)
    assert "2 rows read, 2 answers imported, 0 already present, 0 rejected" in out and not err
    assert stored() == [("v1", "w1", "yes"), ("v2", "w1", "no"), ("v3", "old", "no")]


@pytest.mark.django_db
def test_import_rejects_a_field_over_128_kib_and_a_nul_byte_by_line_and_keeps_the_good_rows(
    earlier, tmp_path
):
    path = tmp_path / "answers.csv"
    path.write_bytes(
        b"video,worker,answer,comment\n"
        b"v1,w1,yes,fine\n"
        b"v1,w2,no," + BIG + b"\n"  # 3
        b"v2,w\x002,no,\n"  # 4: PostgreSQL cannot store a NUL in text
        b"v2,w3,no,\n"
    )
    out, err = import_answers(earlier, path)
    assert "4 rows read, 2 answers imported, 0 already present, 2 rejected" in out
    assert "rejected row 3, field line: a field longer than 131072 characters" in err
    assert "rejected row 4, field line: a NUL byte at column 5 (is the file UTF-16 or binary?)" in err
    assert stored() == [("v1", "w1", "yes"), ("v2", "w3", "no"), ("v3", "old", "no")]


@pytest.mark.django_db
def test_import_refuses_a_file_whose_quote_is_never_closed_and_stores_nothing(earlier, tmp_path):
    path = tmp_path / "answers.csv"
    path.write_bytes(b'video,worker,answer\nv1,w1,yes\nv1,"w2,no\nv2,w1,yes\nv2,w2,no\n')
    with pytest.raises(CommandError) as caught:
        import_answers(earlier, path)
    assert str(caught.value) == (
        "answers.csv: line 3: a quote opened on this line is never closed, so lines 3–5 would be one field; "
        'close the quote (or double it, "", inside a quoted field). Nothing was imported.'
    )
    assert stored() == [("v3", "old", "no")]


@pytest.mark.django_db
def test_import_rejects_a_quoted_id_that_runs_over_lines(earlier, tmp_path):
    path = tmp_path / "answers.csv"
    path.write_bytes(b'video,worker,answer\nv1,"w1\nv2",yes\nv2,w2,no\n')
    out, err = import_answers(earlier, path)
    assert "rejected row 2, field line: a quoted field runs on to line 3; is a quote not closed?" in err
    assert stored() == [("v2", "w2", "no"), ("v3", "old", "no")]


@pytest.mark.django_db
def test_import_refuses_a_utf16_file_by_its_header(earlier, tmp_path):
    path = tmp_path / "answers.csv"
    path.write_bytes("video,worker,answer\nv1,w1,yes\n".encode("utf-16-le"))
    with pytest.raises(
        CommandError, match=re.escape("header (line 1) cannot be read: a NUL byte at column 2")
    ):
        import_answers(earlier, path)
    assert stored() == [("v3", "old", "no")]


EARLIER_VERDICTS = "item,label,confidence\nkept,yes,1.0000\n"


@pytest.mark.parametrize(
    "content, listed",
    [
        (
            b"item,worker,label,note\na,w1,yes,\na,w2,no," + BIG + b"\nb,w1,yes,\n",
            "line 3: a field longer than 131072 characters",
        ),
        (b"item,worker,label\na,w1,yes\na,w\x002,no\n", "line 3: a NUL byte at column 4"),
        (
            b'item,worker,label\na,w1,yes\na,"w2,no\nb,w1,yes\n',
            "line 3: a quote opened on this line is never closed",
        ),
        (b'item,worker,label\na,w1,yes\na,"w2\nb",no\n', "line 3: a quoted field runs on to line 4"),
    ],
    ids=["field over 128 KiB", "NUL byte", "quote never closed", "quoted id over two lines"],
)
def test_aggregate_file_names_the_line_and_writes_nothing(tmp_path, content, listed):
    answers, out = tmp_path / "answers.csv", tmp_path / "verdicts.csv"
    answers.write_bytes(content)
    out.write_text(EARLIER_VERDICTS)
    with pytest.raises(CommandError, match=re.escape(listed)) as caught:
        aggregate_file(answers, out)
    assert "nothing aggregated" in str(caught.value)
    assert out.read_text() == EARLIER_VERDICTS
    assert sorted(p.name for p in tmp_path.iterdir()) == ["answers.csv", "verdicts.csv"]


def test_aggregate_file_reads_bare_cr_line_endings_as_line_breaks(tmp_path):
    answers, out = tmp_path / "answers.csv", tmp_path / "verdicts.csv"
    answers.write_bytes(b"item,worker,label\ra,w1,cat\ra,w2,cat\rb,w1,dog\rb,w2,dog\r")
    assert "2 items from 4 answers by 2 workers" in aggregate_file(answers, out)
    assert out.read_text() == '"item","label","confidence"\n"a","cat",1.0000\n"b","dog",1.0000\n'

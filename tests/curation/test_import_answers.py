"""`manage.py import_answers`: answers from elsewhere, row errors, idempotence, bad files."""

import re
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from curation.models import ExternalAnswer
from curation.services.labels.answers_import import AnswersImportError, answer_normalise, answers_import
from tests.curation.labels_helpers import make_videos

pytestmark = pytest.mark.django_db


def stored():
    return sorted(ExternalAnswer.objects.values_list("video__external_id", "worker", "label", "gold"))


def import_answers(dataset, path) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("import_answers", "--dataset", dataset.slug, str(path), stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_it_imports_a_csv_and_a_second_import_adds_nothing(dataset, tmp_path):
    make_videos(dataset, 3)
    path = tmp_path / "round1.csv"
    path.write_text("video,worker,answer,gold\nv1,w1,Y,\nv1,w2,no,\nv2,w1,can't tell,\nv3,w1,1,yes\n")

    out, err = import_answers(dataset, path)

    assert "4 rows read, 4 answers imported, 0 already present, 0 rejected" in out and not err
    assert stored() == [("v1", "w1", "yes", ""), ("v1", "w2", "no", ""), ("v2", "w1", "unsure", ""),
                        ("v3", "w1", "yes", "yes")]  # fmt: skip
    assert set(ExternalAnswer.objects.values_list("source", flat=True)) == {"round1.csv"}
    out, _ = import_answers(dataset, path)
    assert "0 answers imported, 4 already present" in out and ExternalAnswer.objects.count() == 4


def test_a_tsv_with_other_header_names_is_read_by_its_header(dataset, tmp_path):
    make_videos(dataset, 1)
    path = tmp_path / "answers.txt"
    path.write_text("Item\tWorker_ID\tLabel\nv1\tA7\tFALSE\n")
    summary = answers_import(dataset=dataset, path=path)
    assert summary.created == 1 and stored() == [("v1", "A7", "no", "")]


def test_bad_rows_are_reported_by_line_and_field_and_good_rows_are_kept(dataset, tmp_path):
    make_videos(dataset, 2)
    ExternalAnswer.objects.create(dataset=dataset, video=dataset.videos.get(external_id="v2"), worker="w1",
                                  label="yes", source="old.csv")  # fmt: skip
    path = tmp_path / "mixed.csv"
    path.write_bytes(
        b"video,worker,answer,gold\n"
        b"v1,w1,maybe,\n"  # 2: answer not understood
        b"nope,w1,yes,\n"  # 3: unknown video
        b"v1,,yes,\n"  # 4: empty worker
        b"v1,w2,yes,\n"  # 5: good
        b'v1,"w6"x,no,\n'  # 6: text after a closing quote
        b"v2,w1,no,\n"  # 7: a different answer than the earlier import's
        b"v1,w3,\xff\xfe,\n"  # 8: not UTF-8
        b"v1,w4,no,perhaps\n"  # 9: gold not understood
        b"v1\n"  # 10: too few fields
        b"v1,w2,yes,\n"  # 11: same answer again: left out
    )
    summary = answers_import(dataset=dataset, path=path)

    assert (summary.created, summary.unchanged, summary.rejected, summary.repeated) == (1, 0, 8, 1)
    errors = {e.row: (e.field, e.reason) for e in summary.errors}
    assert errors[2] == ("answer", "'maybe' is not an answer we understand (yes/no/unsure, y/n, 1/0, "
                                   "true/false, can't tell)")  # fmt: skip
    assert errors[3] == ("video", "no video 'nope' in dataset usv-sample")
    assert errors[4] == ("worker", "empty worker id")
    assert errors[6] == ("line", "not readable as CSV: ',' expected after '\"'")
    assert "already answered 'yes' for video 'v2' (an earlier import)" in errors[7][1]
    assert errors[8] == ("line", "not valid UTF-8 (byte 0xff at column 7)")
    assert errors[9][0] == "gold" and errors[10][0] == "line"
    assert stored() == [("v1", "w2", "yes", ""), ("v2", "w1", "yes", "")]


def test_contradicting_gold_for_a_video_is_a_row_error(dataset, tmp_path):
    make_videos(dataset, 1)
    path = tmp_path / "gold.csv"
    path.write_text("video,worker,answer,gold\nv1,w1,no,no\nv1,w2,no,yes\n")
    summary = answers_import(dataset=dataset, path=path)
    assert (
        summary.created == 1
        and "gold 'yes' for video 'v1' contradicts 'no' (line 2)" in summary.errors[0].reason
    )


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "the file is empty"),
        (b"video,worker,answer\n", "no answers below the header"),
        (b"video,annotator_name,verdict\nv1,w1,yes\n", "lacks the column(s) worker, answer"),
        (b"video,item,worker,answer\nv1,v1,w,yes\n", "names the video column twice"),
        (b"\xff\xfevideo,worker,answer\nv1,w1,yes\n", "the header (line 1) cannot be read: not valid UTF-8"),
    ],
)
def test_a_bad_file_is_refused_before_anything_is_stored(dataset, tmp_path, content, message):
    make_videos(dataset, 1)
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    with pytest.raises(CommandError, match=re.escape(message)):
        import_answers(dataset, path)
    assert not ExternalAnswer.objects.exists()


def test_a_missing_file_and_an_unknown_dataset_are_refused(dataset, tmp_path):
    with pytest.raises(AnswersImportError, match="does not exist"):
        answers_import(dataset=dataset, path=tmp_path / "nope.csv")
    with pytest.raises(CommandError, match="no dataset 'nope'"):
        call_command("import_answers", "--dataset", "nope", str(tmp_path / "x.csv"))


@pytest.mark.parametrize(
    "spelling, answer",
    [("Yes", "yes"), ("y", "yes"), ("TRUE", "yes"), ("0", "no"), ("n", "no"), ("Can’t  tell", "unsure"),
     ("cannot tell", "unsure"), ("?", "unsure"), ("maybe", None)],
)  # fmt: skip
def test_answers_are_normalised_to_yes_no_unsure(spelling, answer):
    assert answer_normalise(spelling) == answer

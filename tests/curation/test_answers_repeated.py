"""A worker who answered the same item more than once: `--repeated first|last|all|refuse` in
`aggregate_file` and `import_answers`.

The adult-content rating set known for 2,922 such rows is not in ../shared/data/crowd, and the
sets that are have none, so the real-data tests take Snow et al.'s RTE answers (8,000, 800 items)
and let every tenth worker answer again, changing their mind, at the end of the file.
"""

import csv
from io import StringIO

import numpy as np
import pandas as pd
import pytest
from crowdkit.aggregation import DawidSkene, MajorityVote
from django.core.management import CommandError, call_command

from curation.models import ExternalAnswer, Video
from ml.aggregate import dawid_skene, encode_answers, majority_vote
from tests.curation.labels_helpers import earlier_fixture, make_videos, stored  # noqa: F401 (a fixture)
from tests.curation.test_aggregate_file import write_answers
from tests.ml.crowd_data import dataset

FLIP = {"0": "1", "1": "0"}


def aggregate_file(answers, out, *args) -> str:
    stdout = StringIO()
    call_command("aggregate_file", str(answers), "--out", str(out), *args, stdout=stdout)
    return stdout.getvalue()


def read_verdicts(path) -> dict[str, tuple[str, float]]:
    with open(path, newline="") as f:
        return {row["item"]: (row["label"], float(row["confidence"])) for row in csv.DictReader(f)}


def rte_with_second_thoughts():
    """(original rows, the repeats appended at the end)."""
    rows, _ = dataset("rte")
    return rows, [(item, worker, FLIP[label]) for item, worker, label in rows[::10]]


def library(rows, method):
    encoded = encode_answers(*zip(*rows, strict=True))
    result = (majority_vote if method == "mv" else dawid_skene)(encoded)
    return {item: encoded.classes[k] for item, k in zip(encoded.items, result.label, strict=True)}


SMALL = [  # labels that are not topic answers: plain majority vote, verdicts counted per label
    ("a", "w1", "cat"),  # line 2
    ("a", "w2", "dog"),
    ("a", "w3", "dog"),
    ("a", "w1", "dog"),  # 5: w1 again, other answer
    ("a", "w1", "dog"),  # 6: and again
    ("b", "w1", "cat"),
    ("b", "w2", "cat"),
    ("b", "w3", "fox"),  # 9
    ("b", "w3", "cat"),  # 10: w3 again
]


def test_aggregate_file_refuses_repeats_by_default_naming_the_option_and_counting_the_rows(tmp_path):
    answers = write_answers(tmp_path / "answers.csv", SMALL)
    with pytest.raises(CommandError) as caught:
        aggregate_file(answers, tmp_path / "v.csv", "--method", "mv")
    assert str(caught.value).splitlines() == [
        "answers.csv: 3 bad row(s), nothing aggregated:",
        "  line 5: worker 'w1' already answered item 'a' on line 2",
        "  line 6: worker 'w1' already answered item 'a' on line 5",
        "  line 10: worker 'w3' already answered item 'b' on line 9",
        "3 row(s) repeat a worker's answer to the same item (2 worker–item pair(s)): choose what to keep "
        "with --repeated first, last or all",
    ]
    assert not (tmp_path / "v.csv").exists()


@pytest.mark.parametrize(
    "policy, verdicts, report",
    [
        ("first", {"a": ("dog", 0.6667), "b": ("cat", 0.6667)},
         "3 dropped (kept the first); verdicts cat: 1, dog: 1, fox: 0"),
        ("last", {"a": ("dog", 1.0), "b": ("cat", 1.0)},
         "3 dropped (kept the last); verdicts cat: 1, dog: 1"),  # fox was only in a dropped answer
        ("all", {"a": ("dog", 0.8), "b": ("cat", 0.75)}, "all counted; verdicts cat: 1, dog: 1, fox: 0"),
    ],
)  # fmt: skip
def test_aggregate_file_keeps_the_first_the_last_or_every_repeated_answer(tmp_path, policy, verdicts, report):
    answers, out = write_answers(tmp_path / "answers.csv", SMALL), tmp_path / "v.csv"
    summary = aggregate_file(answers, out, "--method", "mv", "--repeated", policy)
    assert read_verdicts(out) == verdicts
    assert "3 repeated answers (2 worker–item pairs), " + report in summary
    assert f"from {9 if policy == 'all' else 6} answers by 3 workers" in summary


def test_aggregate_file_on_real_answers_with_second_thoughts(tmp_path):
    rows, again = rte_with_second_thoughts()
    answers = write_answers(tmp_path / "rte.tsv", rows + again, delimiter="\t")
    with pytest.raises(CommandError) as caught:
        aggregate_file(answers, tmp_path / "v.csv", "--method", "mv")
    assert "800 row(s) repeat a worker's answer to the same item (800 worker–item pair(s))" in str(
        caught.value
    )
    assert "820 bad row(s)" not in str(caught.value) and "… and 780 more" in str(caught.value)

    changed = {(item, worker): label for item, worker, label in again}
    last = [(item, worker, changed.get((item, worker), label)) for item, worker, label in rows]
    for method in ("mv", "ds"):
        for policy, expected in (("first", rows), ("last", last), ("all", rows + again)):
            out = tmp_path / f"{policy}-{method}.csv"
            summary = aggregate_file(answers, out, "--method", method, "--repeated", policy)
            assert "800 repeated answers (800 worker–item pairs)" in summary
            got = {item: label for item, (label, _) in read_verdicts(out).items()}
            assert got == library(expected, method), (policy, method)
    assert library(rows + again, "ds") != library(rows, "ds")  # every answer counted changes verdicts


@pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::FutureWarning")
def test_aggregate_file_counts_every_repeated_answer_as_crowd_kit_does(tmp_path):
    rows, again = rte_with_second_thoughts()
    answers = write_answers(tmp_path / "rte.csv", rows + again)
    frame = pd.DataFrame(rows + again, columns=["task", "worker", "label"])
    _, gold = dataset("rte")

    aggregate_file(answers, tmp_path / "mv.csv", "--method", "mv", "--repeated", "all")
    ours = read_verdicts(tmp_path / "mv.csv")
    shares = MajorityVote().fit(frame).probas_.max(axis=1)  # the winner's share of the votes
    assert max(abs(ours[item][1] - share) for item, share in shares.items()) < 1e-4

    aggregate_file(answers, tmp_path / "ds.csv", "--method", "ds", "--repeated", "all")
    ours = read_verdicts(tmp_path / "ds.csv")
    theirs = DawidSkene(n_iter=100).fit_predict(frame)  # converges on RTE in 12 iterations
    accuracy = np.mean([ours[item][0] == gold[item] for item in theirs.index])
    assert abs(accuracy - (theirs == pd.Series(gold)[theirs.index]).mean()) <= 0.005


def import_answers(dataset, path, *args) -> str:
    out, err = StringIO(), StringIO()
    call_command("import_answers", "--dataset", dataset.slug, *args, str(path), stdout=out, stderr=err)
    return out.getvalue() + err.getvalue()


IMPORT = (
    b"video,worker,answer\n"
    b"v1,w1,yes\n"
    b"v1,w2,no\n"
    b"v1,w1,no\n"  # 4: w1 changes their answer
    b"v2,w1,yes\n"
    b"v2,w1,Y\n"  # 6: the same answer again
    b"v1,w1,no\n"  # 7
)


@pytest.mark.django_db
def test_import_refuses_repeats_with_another_answer_before_storing_anything(earlier, tmp_path):
    path = tmp_path / "answers.csv"
    path.write_bytes(IMPORT)
    with pytest.raises(CommandError) as caught:
        import_answers(earlier, path)
    assert str(caught.value) == (
        "answers.csv: 2 row(s) repeat a worker's answer for a video with a different answer "
        "(1 worker–video pair(s); first line 4: worker 'w1' answered 'no' for video 'v1' after 'yes' "
        "on line 2). The database keeps one answer per worker and video: choose which with "
        "--repeated first or --repeated last. Nothing was imported."
    )
    assert stored() == [("v3", "old", "no")]
    with pytest.raises(
        CommandError, match="--repeated all cannot be imported: the database keeps one answer"
    ):
        import_answers(earlier, path, "--repeated", "all")
    assert stored() == [("v3", "old", "no")]


@pytest.mark.django_db
def test_import_leaves_out_the_same_answer_given_again(earlier, tmp_path):
    path = tmp_path / "answers.csv"
    path.write_bytes(b"video,worker,answer\nv1,w1,yes\nv1,w1,y\n")
    out = import_answers(earlier, path)
    assert "2 rows read, 1 answers imported, 0 already present, 0 rejected, 1 repeated answers left out " \
           "(the same answer again)" in out  # fmt: skip


@pytest.mark.django_db
def test_import_keeps_the_last_answer_again_and_again_and_a_stored_answer_is_never_overwritten(
    earlier, tmp_path
):
    path = tmp_path / "answers.csv"
    path.write_bytes(IMPORT)
    out = import_answers(earlier, path, "--repeated", "last")
    assert "6 rows read, 3 answers imported, 0 already present, 0 rejected, 3 repeated answers left out " \
           "(kept the last)" in out  # fmt: skip
    expected = [("v1", "w1", "no"), ("v1", "w2", "no"), ("v2", "w1", "yes"), ("v3", "old", "no")]
    assert stored() == expected
    assert "0 answers imported, 3 already present, 0 rejected" in import_answers(
        earlier, path, "--repeated", "last"
    )
    out = import_answers(earlier, path, "--repeated", "first")
    assert "1 rejected" in out
    assert "row 2 (v1), field answer: worker 'w1' already answered 'no' for video 'v1' " \
           "(an earlier import); an import does not overwrite answers" in out  # fmt: skip
    assert stored() == expected


@pytest.mark.django_db
def test_import_keeps_the_first_answer(earlier, tmp_path):
    path = tmp_path / "answers.csv"
    path.write_bytes(IMPORT)
    out = import_answers(earlier, path, "--repeated", "first")
    assert (
        "3 answers imported, 0 already present, 0 rejected, 3 repeated answers left out (kept the first)"
        in out
    )
    assert stored() == [("v1", "w1", "yes"), ("v1", "w2", "no"), ("v2", "w1", "yes"), ("v3", "old", "no")]


@pytest.mark.django_db
def test_import_of_real_answers_with_second_thoughts_stores_the_last_of_each(dataset, tmp_path):
    rows, again = rte_with_second_thoughts()
    Video.objects.bulk_create(
        Video(dataset=dataset, external_id=item, source=f"/originals/{item}.mp4", source_kind="file")
        for item in dict.fromkeys(item for item, _, _ in rows)
    )
    path = write_answers(tmp_path / "rte.csv", rows + again)  # columns item, worker, label: aliases
    with pytest.raises(CommandError, match=r"800 row\(s\) repeat .* \(800 worker–video pair\(s\)"):
        import_answers(dataset, path)
    assert not ExternalAnswer.objects.exists()
    out = import_answers(dataset, path, "--repeated", "last")
    assert "8800 rows read, 8000 answers imported, 0 already present, 0 rejected, 800 repeated" in out
    changed = {(item, worker): label for item, worker, label in again}
    expected = {(item, worker): changed.get((item, worker), label) for item, worker, label in rows}
    got = {(item, worker): label for item, worker, label in stored()}
    assert got == {key: {"0": "no", "1": "yes"}[label] for key, label in expected.items()}

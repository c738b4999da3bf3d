"""`manage.py aggregate_file`: answers file in, verdicts file out, no database.

These tests take no `db` fixture, so pytest-django would fail any query the command made.
"""

import csv
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from django.core.management import CommandError, call_command

from ml.aggregate import dawid_skene, encode_answers, majority_vote
from tests.ml.crowd_data import dataset

ROOT = Path(__file__).resolve().parents[2]


def write_answers(path: Path, rows, gold: dict | None = None, delimiter: str = ",") -> Path:
    with open(path, "w", newline="") as f:
        writer = csv.writer(f, delimiter=delimiter)
        writer.writerow(["item", "worker", "label"] + (["gold"] if gold is not None else []))
        for item, worker, label in rows:
            writer.writerow([item, worker, label] + ([gold.get(item, "")] if gold is not None else []))
    return path


def read_verdicts(path: Path) -> dict[str, tuple[str, float]]:
    with open(path, newline="") as f:
        delimiter = "\t" if path.suffix == ".tsv" else ","
        reader = csv.reader(f, delimiter=delimiter)
        assert next(reader)[:3] == ["item", "label", "confidence"]  # then `verdict` for topic answers
        return {item: (label, float(confidence)) for item, label, confidence, *_ in reader}


def aggregate_file(*args) -> str:
    from io import StringIO

    out = StringIO()
    call_command("aggregate_file", *map(str, args), stdout=out)
    return out.getvalue()


@pytest.mark.parametrize("name, suffix", [("bluebirds", ".csv"), ("rte", ".tsv"), ("wsd", ".tsv")])
def test_it_writes_the_same_verdicts_as_the_library_for_the_crowd_datasets(tmp_path, name, suffix):
    rows, gold = dataset(name)
    answers_file = write_answers(
        tmp_path / f"answers{suffix}", rows, delimiter="\t" if suffix == ".tsv" else ","
    )
    encoded = encode_answers(*zip(*rows, strict=True))
    for method, expected in (("mv", majority_vote(encoded)), ("ds", dawid_skene(encoded))):
        out = tmp_path / f"verdicts-{method}{suffix}"
        summary = aggregate_file(answers_file, "--method", method, "--out", out)
        assert f"method {method}" in summary and f"{encoded.n_items} items" in summary
        verdicts = read_verdicts(out)
        assert list(verdicts) == list(encoded.items)  # first-seen order, one row per item
        labels = [verdicts[item][0] for item in encoded.items]
        assert labels == [encoded.classes[k] for k in expected.label]
        confidence = np.array([verdicts[item][1] for item in encoded.items])
        assert np.abs(confidence - expected.confidence).max() <= 5e-5
        accuracy = np.mean([verdicts[item][0] == gold[item] for item in encoded.items])
        assert accuracy > {"bluebirds": 0.75, "rte": 0.87, "wsd": 0.99}[name]


def test_usv_rule_marks_two_no_answers_as_noise_and_keeps_disagreements(tmp_path):
    rows = [
        ("clip-1", "ann", "no"), ("clip-1", "bob", "no"), ("clip-2", "ann", "yes"), ("clip-2", "bob", "no"),
        ("clip-3", "ann", "yes"), ("clip-3", "bob", "yes"),
    ]  # fmt: skip
    out = tmp_path / "verdicts.csv"
    summary = aggregate_file(write_answers(tmp_path / "a.csv", rows), "--method", "usv", "--out", out)
    assert read_verdicts(out) == {"clip-1": ("no", 1.0), "clip-2": ("", 0.5), "clip-3": ("yes", 1.0)}
    assert [row[-1] for row in csv.reader(out.read_text().splitlines())] == [
        "verdict", "noise", "disagreement", "verified",
    ]  # fmt: skip
    assert "verdicts verified: 1, noise: 1, disagreement: 1" in summary
    renamed = [(item, worker, {"no": "off-topic", "yes": "on-topic"}[label]) for item, worker, label in rows]
    aggregate_file(write_answers(tmp_path / "b.csv", renamed), "--method", "usv", "--negative", "off-topic",
                   "--out", out)  # fmt: skip
    assert read_verdicts(out)["clip-1"] == ("off-topic", 1.0)


def test_gold_answers_decide_their_items(tmp_path):
    rows = [("a", "w1", "yes"), ("a", "w2", "yes"), ("b", "w1", "no"), ("b", "w2", "no")]
    out = tmp_path / "v.csv"
    summary = aggregate_file(
        write_answers(tmp_path / "a.csv", rows, gold={"a": "no"}), "--method", "mv", "--out", out
    )
    assert read_verdicts(out) == {"a": ("no", 1.0), "b": ("no", 1.0)}
    assert "(1 with gold)" in summary


def test_auto_picks_dawid_skene_from_three_answers_per_item_and_majority_vote_below(tmp_path):
    rows, _ = dataset("rte")  # ten answers per item
    assert "method ds" in aggregate_file(write_answers(tmp_path / "a.csv", rows), "--out", tmp_path / "v.csv")
    per_item: dict = {}
    for item, worker, label in rows:
        if len(per_item.setdefault(item, [])) < 2:
            per_item[item].append((item, worker, label))
    two = [row for answers in per_item.values() for row in answers]
    assert "method mv" in aggregate_file(write_answers(tmp_path / "b.csv", two), "--out", tmp_path / "v.csv")


def test_it_runs_as_a_command_without_a_database(tmp_path):
    rows, _ = dataset("temp")
    answers = write_answers(tmp_path / "temp.csv", rows)
    env = {**os.environ, "DATABASE_URL": "postgres://nobody@127.0.0.1:1/nowhere"}
    command = [sys.executable, "manage.py", "aggregate_file", str(answers), "--method", "ds"]
    done = subprocess.run(
        [*command, "--out", str(tmp_path / "v.tsv")], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert len(read_verdicts(tmp_path / "v.tsv")) == 462


BAD_ROWS = (
    b"item,worker,label,gold\n"
    b"a,w1,yes,\n"
    b"a,w2,no,\n"
    b"b,,yes,\n"  # line 4: no worker
    b"c,w1\n"  # line 5: too few fields
    b"a,w1,no,\n"  # line 6: w1 answered a on line 2
    b"d,w1,caf\xe9,\n"  # line 7: Latin-1, not UTF-8
    b"e,w1,yes,yes\n"
    b"e,w2,yes,no\n"  # line 9: gold contradicts line 8
)


def test_bad_rows_are_listed_by_line_and_nothing_is_written(tmp_path):
    answers = tmp_path / "answers.csv"
    answers.write_bytes(BAD_ROWS)
    out = tmp_path / "verdicts.csv"
    out.write_text("item,label,confidence\nkept,yes,1.0000\n")  # an earlier result stays untouched
    with pytest.raises(CommandError) as caught:
        aggregate_file(answers, "--method", "mv", "--out", out)
    message = str(caught.value)
    assert "5 bad row(s), nothing aggregated" in message
    lines = [line.strip() for line in message.splitlines()[1:]]
    assert lines == [
        "line 4: empty worker",
        "line 5: 2 field(s), the header has 4",
        "line 6: worker 'w1' already answered item 'a' on line 2",
        "line 7: not valid UTF-8 (byte 0xe9 at column 9)",
        "line 9: gold 'no' for item 'e' contradicts 'yes' on line 8",
        "1 row(s) repeat a worker's answer to the same item (1 worker–item pair(s)): choose what to keep "
        "with --repeated first, last or all",
    ]
    assert out.read_text() == "item,label,confidence\nkept,yes,1.0000\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["answers.csv", "verdicts.csv"]


@pytest.mark.parametrize(
    "content, args, message",
    [
        (None, ("--method", "mv"), "does not exist"),
        (b"video,annotator,answer\nx,w,yes\n", ("--method", "mv"), "missing item, worker, label"),
        (b"", ("--method", "mv"), "missing item, worker, label in an empty first line"),
        (b"item,worker,label\n", ("--method", "mv"), "no answers below the header"),
        (b"item,worker,label\na,w1,x\na,w2,y\na,w3,z\n", ("--method", "usv"), "exactly two labels"),
        (
            b"item,worker,label\na,w1,cat\na,w2,dog\n",
            ("--method", "usv"),
            "which of \\['cat', 'dog'\\] means No",
        ),
        (
            b"item,worker,label\na,w1,yes\na,w2,no\n",
            ("--method", "usv", "--negative", "nope"),
            "'nope' is not one of",
        ),
    ],
)
def test_unreadable_files_are_refused_with_the_reason(tmp_path, content, args, message):
    answers = tmp_path / "answers.csv"
    if content is not None:
        answers.write_bytes(content)
    with pytest.raises(CommandError, match=message):
        aggregate_file(answers, *args, "--out", tmp_path / "verdicts.csv")
    assert not (tmp_path / "verdicts.csv").exists()
    assert [p.name for p in tmp_path.iterdir()] == (["answers.csv"] if content is not None else [])


def test_output_must_not_replace_the_input_or_go_to_a_missing_folder(tmp_path):
    answers = write_answers(tmp_path / "answers.csv", [("a", "w1", "yes")])
    before = answers.read_bytes()
    with pytest.raises(CommandError, match="must not overwrite the answers file"):
        aggregate_file(answers, "--out", answers)
    with pytest.raises(CommandError, match="does not exist"):
        aggregate_file(answers, "--out", tmp_path / "missing" / "v.csv")
    assert answers.read_bytes() == before

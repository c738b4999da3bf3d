"""Each export format of a frozen split loads with the reader ML code uses, and says the same."""

import csv
import hashlib
import json
from pathlib import Path

import pandas as pd
import pytest

from curation.models import SplitMember
from tests.curation.export_fixtures import NOISE, SUBTITLED, export, release_fixture, var_dir_fixture  # noqa: F401

pytestmark = pytest.mark.django_db
SUBSETS = ("train", "val", "test")


def db_ids(subset: str) -> set[str]:
    return set(
        SplitMember.objects.filter(split__name="v1", subset=subset).values_list(
            "video__external_id", flat=True
        )
    )


def test_jsonl_has_one_file_per_subset_that_loads_with_datasets(release):
    from datasets import load_dataset

    job, folder = export(release, "jsonl")

    loaded = load_dataset("json", data_files={s: str(folder / f"{s}.jsonl") for s in SUBSETS})
    for subset in SUBSETS:
        assert set(loaded[subset]["id"]) == db_ids(subset)
        assert job.manifest["files"][f"{subset}.jsonl"]["rows"] == len(loaded[subset])
    rows = {
        json.loads(line)["id"]: json.loads(line) for line in (folder / "train.jsonl").read_text().splitlines()
    }
    noisy = rows["v01"]
    assert noisy["is_noise"] is True and noisy["subset"] == "train"
    assert noisy["verdict"] == {
        "label": "noise", "method": "mv", "confidence": 0.9, "answers_used": 2,
        "answers": {"yes": 0, "no": 2, "unsure": 0},
        "disputed": False,
    }  # fmt: skip
    assert noisy["subtitle"]["text"] == "only cue"
    assert noisy["subtitle"]["cues"] == [{"start": 0.0, "end": 0.8, "text": "only cue"}]
    assert rows["v00"]["publisher"] == "pub0" and rows["v00"]["metadata"] == {"hashtags": ["fyp", "t0"]}
    assert rows["v02"]["subtitle"] == {"text": None, "reason": "no text found", "cues": []}
    assert "scores" in noisy and noisy["scores"] is None
    assert job.manifest["rows"]["noise_flagged"] == {"train": 1, "val": 0, "test": 0}
    assert job.manifest["split"]["excluded_noise"] == 1 and job.manifest["verdict_method"] == "mv"
    assert (job.rows_done, job.rows_total) == (11, 11)


def test_csv_loads_with_pandas_with_lists_and_dicts_as_json(release):
    job, folder = export(release, "csv")

    for subset in SUBSETS:
        frame = pd.read_csv(folder / f"{subset}.csv")
        assert set(frame["id"]) == db_ids(subset)
        assert job.manifest["files"][f"{subset}.csv"]["rows"] == len(frame)
    train = pd.read_csv(folder / "train.csv").set_index("id")
    assert bool(train.loc["v01", "is_noise"]) and train.loc["v01", "verdict_label"] == "noise"
    assert json.loads(train.loc["v01", "verdict_answers"]) == {"yes": 0, "no": 2, "unsure": 0}
    assert json.loads(train.loc["v00", "candidates"]) == []
    assert (
        train.loc["v00", "subtitle"] == "hello there second line" and train.loc["v00", "subtitle_cues"] == 2
    )


def test_parquet_loads_with_pandas_and_datasets(release):
    from datasets import load_dataset

    job, folder = export(release, "parquet")

    loaded = load_dataset("parquet", data_files={s: str(folder / f"{s}.parquet") for s in SUBSETS})
    for subset in SUBSETS:
        frame = pd.read_parquet(folder / f"{subset}.parquet")
        assert set(frame["id"]) == set(loaded[subset]["id"]) == db_ids(subset)
        assert job.manifest["files"][f"{subset}.parquet"]["rows"] == len(frame)
    train = pd.read_parquet(folder / "train.parquet").set_index("id")
    assert train.loc["v01", "is_noise"] and train.loc["v00", "probe"]["duration"] == 1.0
    assert list(train.loc["v00", "candidates"]) == []
    # Whole numbers stay integers where some are missing (not float64 with NaN).
    assert str(train["clicks"].dtype) == "Int64" and str(train["duplicate_group"].dtype) == "Int64"
    assert train.loc["v01", "verdict"]["answers"] == {"yes": 0, "no": 2, "unsure": 0}


def test_jsonl_and_parquet_hold_the_same_rows_in_the_same_schema(release):
    import pyarrow.parquet as pq

    from curation.services.exports.schema import FIELDS

    _, jsonl = export(release, "jsonl")
    _, parquet = export(release, "parquet")

    for subset in SUBSETS:
        lines = [json.loads(line) for line in (jsonl / f"{subset}.jsonl").read_text().splitlines()]
        rows = pq.read_table(parquet / f"{subset}.parquet").to_pylist()
        assert [list(r) for r in lines] == [list(r) for r in rows] == [[n for n, *_ in FIELDS]] * len(rows)
        for line, row in zip(lines, rows, strict=True):
            for free in ("metadata", "scores"):  # free-form objects are JSON text in Parquet
                row[free] = None if row[free] is None else json.loads(row[free])
            assert line == row


def read_mmaction_list(path: Path, classes: list[str]) -> list[tuple[str, int]]:
    """What MMAction2's VideoDataset does with `ann_file`: split each line, last field an int label."""
    samples = []
    for line in path.read_text().splitlines():
        filename, label = line.strip().split(" ")
        assert 0 <= int(label) < len(classes)
        samples.append((filename, int(label)))
    return samples


def test_mmaction_lists_hold_path_and_label_index_of_classes_txt(release, media_dir):
    job, folder = export(release, "mmaction")

    classes = (folder / "classes.txt").read_text().splitlines()
    assert classes == sorted(release.topics.values_list("name", flat=True))
    listed = 0
    for subset in SUBSETS:
        samples = read_mmaction_list(folder / f"{subset}_list.txt", classes)
        assert len(samples) == job.manifest["files"][f"{subset}_list.txt"]["rows"]
        listed += len(samples)
    train = dict(read_mmaction_list(folder / "train_list.txt", classes))
    root = Path(job.manifest["format_notes"]["root"])
    assert train["v00.mp4"] == classes.index(release.videos.get(external_id="v00").weak_topic.name)
    assert root == (media_dir / "clips").resolve()  # the folder that holds every listed file
    assert all(not Path(path).is_absolute() and (root / path).is_file() for path in train)
    left = job.manifest["format_notes"]["left_out"]["URL source not downloaded (MMAction2 reads local files)"]
    assert "v01" in left["examples"]  # a URL is not a path under the root
    assert listed + left["videos"] == 11
    # The flagged noisy video (v01) is a URL source, so no listed line is noise.
    assert job.manifest["format_notes"]["noise_flagged"] == {"train": 0, "val": 0, "test": 0}


def test_webdataset_shards_load_with_webdataset_with_the_video_where_there_is_one(release, media_dir):
    import webdataset as wds

    job, folder = export(release, "webdataset")

    seen = {}
    for subset in SUBSETS:
        shards = sorted(str(p) for p in folder.glob(f"{subset}-*.tar"))
        samples = list(wds.WebDataset(shards, shardshuffle=False, empty_check=False))
        rows = [json.loads(s["json"]) for s in samples]
        assert {r["id"] for r in rows} == db_ids(subset)
        seen.update({r["id"]: s for r, s in zip(rows, samples, strict=True)})
    assert seen["v04"]["mp4"] == (media_dir / "proxies/v04.mp4").read_bytes()  # the proxy first
    assert seen["v00"]["mp4"] == (media_dir / "clips/v00.mp4").read_bytes()
    assert "mp4" not in seen["v01"]  # a URL source: JSON only, and the manifest says so
    left = job.manifest["format_notes"]["left_out"]["URL source: JSON only"]
    assert left["videos"] == 8 and "v01" in left["examples"]


def test_srt_writes_a_file_per_video_with_cues_and_an_index_of_all(release):
    job, folder = export(release, "srt")

    assert (folder / "subtitles/v00.srt").read_text() == (
        "1\n00:00:00,000 --> 00:00:00,800\nhello there\n\n2\n00:00:01,000 --> 00:00:01,800\nsecond line\n"
    )
    assert sorted(p.name for p in (folder / "subtitles").iterdir()) == [f"v{i:02d}.srt" for i in SUBTITLED]
    with open(folder / "index.csv") as source:
        index = {row["id"]: row for row in csv.DictReader(source)}
    assert len(index) == 11 and index["v00"]["file"] == "subtitles/v00.srt"
    assert index["v02"]["reason"] == "no text found" and index["v03"]["reason"] == "not read by OCR"


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet", "mmaction", "webdataset", "srt"])
def test_the_manifest_hashes_every_file_and_names_the_split_version(release, fmt):
    job, folder = export(release, fmt)

    on_disk = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())
    assert on_disk == sorted([*job.manifest["files"], "manifest.json"])
    for name, info in job.manifest["files"].items():
        data = (folder / name).read_bytes()
        assert (info["bytes"], info["sha256"]) == (len(data), hashlib.sha256(data).hexdigest())
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["split"]["name"] == "v1" and manifest["split"]["seed"] == 0
    assert manifest["split"]["ratios"] == {"train": 0.6, "val": 0.2, "test": 0.2}
    assert manifest["format"] == fmt and manifest["settings"]["sample_fps"] == 1.0
    assert folder.name == f"v1-{fmt}-{job.id}" and not list(folder.parent.parent.glob(".tmp-*"))


def test_no_publisher_or_duplicate_group_crosses_subsets_in_the_files(release):
    _, folder = export(release, "jsonl")

    publishers, groups = {}, {}
    for subset in SUBSETS:
        for line in (folder / f"{subset}.jsonl").read_text().splitlines():
            row = json.loads(line)
            publishers.setdefault(row["publisher"], set()).add(subset)
            if row["duplicate_group"] is not None:
                groups.setdefault(row["duplicate_group"], set()).add(subset)
    assert publishers and all(len(s) == 1 for s in publishers.values())
    assert groups and all(len(s) == 1 for s in groups.values())


def test_noise_the_split_kept_out_of_val_is_in_no_file(release):
    _, folder = export(release, "jsonl")

    ids = {
        json.loads(line)["id"] for s in SUBSETS for line in (folder / f"{s}.jsonl").read_text().splitlines()
    }
    assert "v09" not in ids and len(ids) == 11 and 9 in NOISE


def test_a_whole_dataset_export_has_one_videos_file_with_noise_from_the_verdicts(release):
    job, folder = export(release, "csv", split=None)

    frame = pd.read_csv(folder / "videos.csv").set_index("id")
    assert len(frame) == 12 and set(frame.loc[frame["is_noise"]].index) == {"v01", "v09"}
    assert frame["subset"].isna().all() and folder.name == f"all-csv-{job.id}"


def test_the_readme_documents_every_exported_field():
    from curation.services.exports.schema import fields_table
    from tests.conftest import ROOT

    readme = (ROOT / "README.md").read_text()
    missing = [
        name for name, kind, meaning in fields_table() if f"| `{name}` | {kind} | {meaning} |" not in readme
    ]
    assert not missing, f"README.md's export table lacks {missing}"

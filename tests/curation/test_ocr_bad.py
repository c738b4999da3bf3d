"""Bad input for the OCR stage: no good frames, no text, corrupt frame files, a non-Latin script,
languages without weights, missing weights. Each ends with a clear reason and nothing half-written."""

from pathlib import Path

import pytest
from django.core.checks import run_checks

from curation.errors import StageError
from curation.models import Frame, StageStatus, SubtitleCue, Video, VideoSubtitle
from curation.services.ocr.engine import ocr_languages, ocr_model_dir
from curation.services.pipeline import pipeline_reset, stage_execute
from tests.conftest import VIDEOS
from tests.curation.ocr_helpers import processed_clips
from tests.fixtures.synth_subtitles import TextSpan

pytestmark = [pytest.mark.django_db, pytest.mark.ocr]

CLIPS = {
    "black.mp4": {"seconds": 3, "subtitles": [], "pattern": "color=c=black"},
    "blank.mp4": {"seconds": 3, "subtitles": []},
    "corrupt.mp4": {"seconds": 3, "subtitles": [TextSpan(0, 3, "Good morning everyone")]},
    "hardsub.mp4": VIDEOS / "rapidvideocr_2_hardsub.mp4",
}


@pytest.fixture(scope="module")
def videos(django_db_setup, django_db_blocker, tmp_path_factory):
    media = tmp_path_factory.mktemp("ocr-bad-media")
    with django_db_blocker.unblock(), processed_clips(media, "ocr-bad", CLIPS) as processed:
        yield processed


def subtitle_of(video: Video) -> VideoSubtitle:
    return VideoSubtitle.objects.get(video=video)


def rerun(video: Video) -> str:
    pipeline_reset(
        dataset_id=video.dataset_id, stage_name="ocr", statuses=[StageStatus.DONE, StageStatus.FAILED]
    )
    return stage_execute(video_id=video.id, stage_name="ocr")


def test_a_video_with_no_good_frames_gets_an_empty_subtitle_and_says_why(videos):
    video = Video.objects.get(id=videos["black.mp4"].id)
    assert video.ocr_status == StageStatus.DONE
    subtitle = subtitle_of(video)
    assert (subtitle.text, subtitle.reason) == ("", "no good frames: 3 flat (no edges to read) of 3")
    assert (subtitle.frames_read, subtitle.frames_skipped) == (0, 3)
    assert not SubtitleCue.objects.filter(video=video).exists()


def test_a_video_without_text_gets_an_empty_subtitle_and_says_why(videos):
    video = Video.objects.get(id=videos["blank.mp4"].id)
    subtitle = subtitle_of(video)
    assert (video.ocr_status, subtitle.text) == (StageStatus.DONE, "")
    assert subtitle.reason == "no text found in 3 readable frames"
    assert not SubtitleCue.objects.filter(video=video).exists()


def test_the_non_latin_hard_subtitles_give_no_garbage(videos):
    video = Video.objects.get(id=videos["hardsub.mp4"].id)
    subtitle = subtitle_of(video)
    assert video.ocr_status == StageStatus.DONE, video.error
    assert subtitle.text == "" and subtitle.reason.startswith("no text found"), subtitle.frames
    assert not SubtitleCue.objects.filter(video=video).exists()


def test_corrupt_frame_files_are_skipped_and_named_in_the_reason(videos, settings):
    video = Video.objects.get(id=videos["corrupt.mp4"].id)
    assert [c.text for c in SubtitleCue.objects.filter(video=video)] == ["Good morning everyone"]
    frames = list(Frame.objects.filter(video=video).order_by("index"))
    paths = [Path(settings.MEDIA_ROOT) / f.image for f in frames]
    originals = [p.read_bytes() for p in paths]
    try:
        paths[0].write_bytes(b"not a jpeg at all")
        assert rerun(video) == StageStatus.DONE
        subtitle = subtitle_of(video)
        assert [f["status"] for f in subtitle.frames] == ["unreadable", "ocr", "reused"]
        assert subtitle.text == "Good morning everyone"
        assert [(c.start, c.end) for c in SubtitleCue.objects.filter(video=video)] == [(1.0, 3.0)]

        paths[1].write_bytes(b"")
        paths[2].unlink()
        assert rerun(video) == StageStatus.DONE
        subtitle = subtitle_of(video)
        assert (subtitle.text, subtitle.reason) == ("", "no good frames: 3 unreadable of 3")
        assert not SubtitleCue.objects.filter(video=video).exists()
    finally:
        for path, data in zip(paths, originals, strict=True):
            path.write_bytes(data)


def test_languages_without_offline_weights_fail_clearly_and_keep_the_cues(videos):
    video = Video.objects.select_related("dataset").get(id=videos["corrupt.mp4"].id)
    before = list(SubtitleCue.objects.filter(video=video).values_list("start", "end", "text"))
    video.dataset.settings = {"ocr_languages": ["ch_sim"]}
    video.dataset.save(update_fields=["settings"])
    assert rerun(video) == StageStatus.FAILED
    video.refresh_from_db()
    missing = "ch_sim (no offline weights; available: en)"
    assert video.error == f"ocr: OCR weights missing in {ocr_model_dir()}: {missing}"
    assert list(SubtitleCue.objects.filter(video=video).values_list("start", "end", "text")) == before


def test_start_up_fails_clearly_when_the_ocr_weights_are_missing(settings, tmp_path):
    settings.MICROCURATE_OCR_MODEL_DIR = str(tmp_path)
    errors = [e for e in run_checks() if e.id == "curation.E003"]
    assert len(errors) == 1
    assert "craft_mlt_25k.pth" in errors[0].msg and "english_g2.pth" in errors[0].msg
    assert str(tmp_path) in errors[0].msg


def test_the_ocr_weights_check_passes_with_the_installed_package():
    assert [e for e in run_checks() if e.id == "curation.E003"] == []


def test_dataset_languages_default_to_english_and_must_be_a_list_of_codes():
    assert ocr_languages({}) == ("en",)
    assert ocr_languages({"ocr_languages": ["en"]}) == ("en",)
    for bad in ("en", [""], [3], {"en": 1}):
        with pytest.raises(StageError, match="must be a list of language codes"):
            ocr_languages({"ocr_languages": bad})

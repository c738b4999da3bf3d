"""The OCR stage on text-first clips (issue 17): white text over sparse bright shapes on a dark
portrait background, and white text on black in landscape with a black gap. Before, the frames
were flagged uniform and OCR skipped them all; now every frame with text is read and only the
flat one is skipped."""

import pytest

from curation.models import Frame, Video
from tests.curation.ocr_helpers import cue_tuples, expected, processed_clips
from tests.fixtures.synth_subtitles import TextSpan, sparse_shapes

pytestmark = [pytest.mark.django_db, pytest.mark.ocr]

PORTRAIT = [TextSpan(0, 2, "Keep believing"), TextSpan(2, 4, "Never give up")]
LANDSCAPE = [TextSpan(0, 1, "Good morning"), TextSpan(2, 3, "Good night")]
CLIPS = {
    "portrait-shapes.mp4": {
        "seconds": 4, "subtitles": PORTRAIT, "boxed": False, "background": sparse_shapes(360, 640, seed=1),
    },
    "landscape-black.mp4": {
        "seconds": 3, "subtitles": LANDSCAPE, "boxed": False, "pattern": "color=c=black",
        "width": 640, "height": 360,
    },
}  # fmt: skip


@pytest.fixture(scope="module")
def videos(django_db_setup, django_db_blocker, tmp_path_factory):
    media = tmp_path_factory.mktemp("ocr-plain-media")
    with django_db_blocker.unblock(), processed_clips(media, "ocr-plain", CLIPS) as processed:
        yield processed


def statuses(video: Video) -> list[str]:
    return [frame["status"] for frame in Video.objects.get(id=video.id).subtitle.frames]


def test_the_portrait_dark_clip_gets_its_subtitles_and_candidate_frames(videos):
    video = Video.objects.get(id=videos["portrait-shapes.mp4"].id)

    assert cue_tuples(video) == expected([(0.0, 2.0, "Keep believing"), (2.0, 4.0, "Never give up")])
    assert statuses(video) == ["ocr", "reused", "ocr", "reused"]
    assert Frame.objects.filter(video=video, is_candidate=True).exists()


def test_white_text_on_black_is_read_and_only_the_black_frame_is_skipped(videos):
    video = Video.objects.get(id=videos["landscape-black.mp4"].id)

    assert cue_tuples(video) == expected([(0.0, 1.0, "Good morning"), (2.0, 3.0, "Good night")])
    assert statuses(video) == ["ocr", "flat", "ocr"]
    assert video.subtitle.frames_skipped == 1

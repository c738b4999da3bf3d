"""The OCR stage on a generated clip with exact ground truth: a title card, subtitles at the bottom
with a gap, a handle in the corner; cues, watermark, cost cut, SRT/WebVTT and the export."""

import json

import pytest
from django.core.management import call_command

from curation.lib.subtitles import normalise
from curation.models import StageStatus, SubtitleCue, Video, VideoSubtitle
from curation.services.ocr import engine as ocr_engine
from curation.services.pipeline import pipeline_reset, stage_execute
from tests.curation.ocr_helpers import HANDLE, SUBTITLES, TITLE, cue_tuples, expected, processed_clips

pytestmark = [pytest.mark.django_db, pytest.mark.ocr]


@pytest.fixture(scope="module")
def beach(django_db_setup, django_db_blocker, tmp_path_factory):
    media = tmp_path_factory.mktemp("ocr-media")
    clip = {"seconds": 8, "title": TITLE, "subtitles": SUBTITLES, "handle": HANDLE}
    with django_db_blocker.unblock(), processed_clips(media, "ocr-beach", {"beach.mp4": clip}) as videos:
        video = videos["beach.mp4"]
        yield video


@pytest.fixture
def video(beach):
    return Video.objects.select_related("subtitle").get(id=beach.id)


def test_cues_match_the_burnt_in_text_and_its_timing(video):
    assert video.ocr_status == StageStatus.DONE, video.error
    assert cue_tuples(video) == expected()


def test_the_handle_is_a_watermark_and_stays_out_of_the_subtitles(video):
    subtitle = video.subtitle
    assert [normalise(w) for w in subtitle.watermarks] == [normalise(HANDLE)]
    assert "surfer42" not in normalise(subtitle.text)
    assert all("surfer42" not in normalise(c.text) for c in video.subtitle_cues.all())
    corner = [box for frame in subtitle.frames for box in frame["boxes"] or () if box[6]]
    assert corner and all(box[0] > 0.6 and box[3] < 0.3 for box in corner)


def test_the_video_level_subtitle_is_the_cues_in_time_order(video):
    assert normalise(video.subtitle.text) == normalise("BEACH DAY Welcome to the beach See you tomorrow")
    assert video.subtitle.reason == ""


def test_unchanged_frames_reuse_the_last_reading_instead_of_running_easyocr(video):
    subtitle = video.subtitle
    statuses = [f["status"] for f in subtitle.frames]
    # Text changes at 0, 2, 4 and 5 s; 1, 3, 6 and 7 show what the frame before showed.
    assert statuses == ["ocr", "reused", "ocr", "reused", "ocr", "ocr", "reused", "reused"]
    assert (subtitle.frames_read, subtitle.frames_reused, subtitle.frames_skipped) == (4, 4, 0)
    assert all(box[5] >= 0.4 for f in subtitle.frames for box in f["boxes"])


def test_a_curator_gets_srt_and_webvtt(client, curator, video):
    client.force_login(curator)
    srt = client.get(f"/api/v1/videos/{video.id}/subtitles.srt")
    assert srt.status_code == 200 and srt["Content-Type"].startswith("application/x-subrip")
    cues = list(video.subtitle_cues.order_by("index"))
    assert srt.content.decode() == (
        f"1\n00:00:00,000 --> 00:00:02,000\n{cues[0].text}\n\n"
        f"2\n00:00:02,000 --> 00:00:04,000\n{cues[1].text}\n\n"
        f"3\n00:00:05,000 --> 00:00:08,000\n{cues[2].text}\n"
    )
    vtt = client.get(f"/api/v1/videos/{video.id}/subtitles.vtt")
    assert vtt.status_code == 200 and vtt["Content-Type"].startswith("text/vtt")
    assert vtt.content.decode().startswith("WEBVTT\n\n00:00:00.000 --> 00:00:02.000\n")
    assert "00:00:05.000 --> 00:00:08.000" in vtt.content.decode()


def test_crowdworkers_outsiders_and_anonymous_get_no_subtitles(client, worker1, outsider, video):
    url = f"/api/v1/videos/{video.id}/subtitles.srt"
    assert client.get(url).status_code == 401
    for user in (worker1, outsider):
        client.force_login(user)
        assert client.get(url).status_code == 403


def test_the_export_carries_the_video_level_subtitle(video, tmp_path):
    call_command("export_dataset", "--dataset", video.dataset.slug, "--out", str(tmp_path / "out"))
    rows = [json.loads(line) for line in (tmp_path / "out" / "videos.jsonl").read_text().splitlines()]
    cues = [{"start": c.start, "end": c.end, "text": c.text} for c in video.subtitle_cues.order_by("index")]
    assert rows[0]["subtitle"] == {"text": video.subtitle.text, "reason": None, "cues": cues}
    assert [(c["start"], c["end"]) for c in cues] == [(0.0, 2.0), (2.0, 4.0), (5.0, 8.0)]


def test_a_crash_midway_keeps_the_previous_cues_and_a_rerun_completes(video, monkeypatch):
    before = cue_tuples(video)
    before_text = video.subtitle.text
    calls = []
    real = ocr_engine.recognise

    def crash_on_second_frame(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("worker killed midway")
        return real(*args, **kwargs)

    monkeypatch.setattr(ocr_engine, "recognise", crash_on_second_frame)
    pipeline_reset(dataset_id=video.dataset_id, stage_name="ocr", statuses=[StageStatus.DONE])
    with pytest.raises(RuntimeError, match="worker killed midway"):
        stage_execute(video_id=video.id, stage_name="ocr")
    video.refresh_from_db()
    assert video.ocr_status == StageStatus.FAILED and "worker killed midway" in video.error
    assert cue_tuples(video) == before
    assert VideoSubtitle.objects.get(video=video).text == before_text

    monkeypatch.setattr(ocr_engine, "recognise", real)
    pipeline_reset(dataset_id=video.dataset_id, stage_name="ocr", statuses=[StageStatus.FAILED])
    assert stage_execute(video_id=video.id, stage_name="ocr") == StageStatus.DONE
    assert cue_tuples(video) == before
    assert SubtitleCue.objects.filter(video=video).count() == 3

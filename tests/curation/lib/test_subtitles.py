"""Subtitle logic without a database or an OCR engine: confidence filter, watermarks, cue merging
with USV's carry-over, SRT/WebVTT, the video-level text, the empty reasons, change detection."""

import subprocess
import sys

import numpy as np

from curation.lib.subtitles import (
    Box,
    Cue,
    FrameText,
    build_cues,
    confident,
    mark_watermarks,
    render_srt,
    render_vtt,
    subtitle_track,
    video_text,
)
from curation.lib.textchange import text_unchanged

HANDLE = Box(0.80, 0.03, 0.97, 0.10, "@surfer42", 0.9)


def sub(text: str, confidence: float = 0.9) -> Box:
    return Box(0.2, 0.85, 0.8, 0.95, text, confidence)


def frames(*texts, handle: bool = True) -> list[FrameText]:
    """One frame a second; a text of None is a frame that was not read (dark, unreadable)."""
    out = []
    for i, text in enumerate(texts):
        if text is None:
            out.append(FrameText(i, float(i), None, "flat"))
            continue
        boxes = ([HANDLE] if handle else []) + ([sub(text)] if text else [])
        out.append(FrameText(i, float(i), tuple(boxes)))
    return out


def test_the_module_imports_without_django():
    code = "import sys, curation.lib.subtitles, curation.lib.textchange; assert 'django' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_low_confidence_and_symbol_only_reads_are_dropped():
    boxes = [
        sub("Welcome", 0.77),
        sub("#it z #5tt", 0.06),
        sub("NNV", 0.15),
        sub("78J", 0.63),
        sub("-- .", 0.9),
    ]
    assert [b.text for b in confident(boxes)] == ["Welcome"]
    assert [b.text for b in confident([sub("OK", 0.95)])] == ["OK"]


def test_a_handle_in_the_same_corner_of_most_frames_is_a_watermark():
    marked = mark_watermarks(frames("", "Hi there", "Hi there", "", "Bye now", "Bye now"))
    assert all(box.watermark == (box.text == "@surfer42") for f in marked for box in f.boxes)


def test_a_handle_read_slightly_differently_is_still_one_watermark():
    texts = ["@surfer42", "@surfer42", "@surfcr42", "@surfer42", "@surfer4Z"]
    marked = mark_watermarks(
        [FrameText(i, float(i), (Box(0.80, 0.03, 0.97, 0.10, t, 0.9),)) for i, t in enumerate(texts)]
    )
    assert all(f.boxes[0].watermark for f in marked)


def test_text_in_a_minority_of_frames_is_not_a_watermark():
    title = Box(0.3, 0.4, 0.7, 0.55, "BEACH DAY", 0.9)
    one = [FrameText(i, float(i), (title,) if i < 2 else ()) for i in range(8)]
    assert not any(b.watermark for f in mark_watermarks(one) for b in f.boxes)


def test_a_subtitle_on_screen_the_whole_clip_stays_a_subtitle():
    track = subtitle_track(frames("Good morning", "Good morning", "Good morning", handle=False), interval=1.0)
    assert [(c.start, c.end, c.text) for c in track.cues] == [(0.0, 3.0, "Good morning")]


def test_a_logo_read_as_different_text_each_time_is_a_watermark_above_the_band():
    reads = ["TikTok", "TlkTok", "Tik T0k", "TIKTOK", "tiktok"]
    marked = mark_watermarks(
        [FrameText(i, float(i), (Box(0.02, 0.02, 0.2, 0.08, r, 0.7),)) for i, r in enumerate(reads)]
    )
    assert all(f.boxes[0].watermark for f in marked)


def test_two_frames_say_nothing_about_persistence():
    assert not any(b.watermark for f in mark_watermarks(frames("", "")) for b in f.boxes)


def test_consecutive_frames_with_the_same_text_merge_and_carry_to_the_next_sample():
    cues = build_cues(
        mark_watermarks(frames("", "Hi there", "hi there!", "", "Bye now", "Bye now")), interval=1.0
    )
    assert [(c.index, c.start, c.end, c.text) for c in cues] == [
        (1, 1.0, 3.0, "Hi there"),
        (2, 4.0, 6.0, "Bye now"),
    ]


def test_an_ocr_slip_in_one_frame_does_not_split_the_cue_and_the_majority_reading_wins():
    cues = build_cues(
        frames("See you tomorrow", "See you tomorrow", "See yau tomorrow", handle=False), interval=1.0
    )
    assert [(c.start, c.end, c.text) for c in cues] == [(0.0, 3.0, "See you tomorrow")]


def test_a_frame_that_was_not_read_ends_a_cue_and_the_last_cue_stops_at_the_duration():
    cues = build_cues(frames("Hello there", None, "Hello there", handle=False), interval=1.0, duration=2.5)
    assert [(c.start, c.end) for c in cues] == [(0.0, 1.0), (2.0, 2.5)]


def test_lines_are_read_top_to_bottom_then_left_to_right():
    boxes = (
        Box(0.55, 0.90, 0.8, 0.95, "line", 0.9),
        Box(0.2, 0.90, 0.5, 0.95, "second", 0.9),
        Box(0.3, 0.80, 0.7, 0.86, "First line", 0.9),
    )
    cues = build_cues([FrameText(0, 0.0, boxes)], interval=1.0)
    assert cues[0].text == "First line second line"


def test_the_video_text_is_the_cues_in_time_order_once_each():
    cues = [Cue(2, 3.0, 4.0, "b"), Cue(1, 0.0, 1.0, "a"), Cue(3, 5.0, 6.0, "B"), Cue(4, 7.0, 8.0, "c")]
    assert video_text(cues) == "a b c"


def test_srt_and_webvtt_render_times_and_escape_text():
    cues = [Cue(1, 0.0, 2.5, "Fish & <chips>"), Cue(2, 3661.25, 3662.0, "two\n\nlines")]
    assert render_srt(cues) == (
        "1\n00:00:00,000 --> 00:00:02,500\nFish & <chips>\n\n2\n01:01:01,250 --> 01:01:02,000\ntwo\nlines\n"
    )
    assert render_vtt(cues) == (
        "WEBVTT\n\n00:00:00.000 --> 00:00:02.500\nFish &amp; &lt;chips&gt;\n\n"
        "01:01:01.250 --> 01:01:02.000\ntwo\nlines\n"
    )
    assert render_srt([]) == "" and render_vtt([]) == "WEBVTT\n"


def test_empty_tracks_say_why():
    assert subtitle_track([], interval=1.0).reason == "no frames were sampled"
    dark = [FrameText(0, 0.0, None, "flat"), FrameText(1, 1.0, None, "unreadable")]
    assert (
        subtitle_track(dark, interval=1.0).reason
        == "no good frames: 1 flat (no edges to read) and 1 unreadable of 2"
    )
    only_handle = subtitle_track(frames("", "", "", ""), interval=1.0)
    assert (only_handle.text, only_handle.reason) == ("", "only watermark text found (@surfer42)")
    blank = subtitle_track(
        [*frames("", "", handle=False), FrameText(2, 2.0, None, "unreadable")], interval=1.0
    )
    assert blank.reason == "no text found in 2 readable frames; 1 frame files unreadable"


def picture(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 255, (90, 160), dtype=np.uint8)


def test_the_same_picture_after_jpeg_noise_is_unchanged():
    base = picture()
    noisy = np.clip(base.astype(int) + np.random.default_rng(1).integers(-8, 9, base.shape), 0, 255).astype(
        np.uint8
    )
    assert text_unchanged(base, noisy, [])


def test_a_new_subtitle_in_the_band_is_a_change():
    base = picture()
    changed = base.copy()
    changed[75:85, 40:120] = 255 - changed[75:85, 40:120]
    assert not text_unchanged(base, changed, [])


def test_text_leaving_a_box_above_the_band_is_a_change_and_motion_elsewhere_is_not():
    base = picture()
    gone = base.copy()
    gone[5:15, 100:150] = 0
    assert not text_unchanged(base, gone, [(100 / 160, 5 / 90, 150 / 160, 15 / 90)])
    moving = base.copy()
    moving[20:45, 10:60] = picture(3)[20:45, 10:60]
    assert text_unchanged(base, moving, [(100 / 160, 5 / 90, 150 / 160, 15 / 90)])


def test_a_scene_cut_is_a_change_even_with_no_text_anywhere():
    base = picture()
    cut = picture(7)
    cut[54:, :] = base[54:, :]
    assert not text_unchanged(base, cut, [])

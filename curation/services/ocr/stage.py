"""OCR stage (USV Stage III): EasyOCR on the 1-fps frames the frames stage stored, watermarks kept
out, subtitle cues and the video-level subtitle.

The cost cut, against plain EasyOCR on every sampled frame (numbers in bench/README.md):
- frames without structure (``curation.lib.quality.is_readable``: no edges anywhere, a black or
  one-colour frame) are not read. The thumbnail flags do not decide it: a dark frame with a caption,
  or a plain card with a quote, is a bad thumbnail but holds text (issue 17: a portrait clip of
  white text over sparse shapes on black had every frame flagged and lost its subtitles);
- a frame whose text boxes, subtitle band and overall picture did not change since the last frame
  read (pixel differences on the stored JPEGs) takes that frame's result as it is;
- a presence check at a quarter of the size skips frames without text; detection runs at half
  size (not below DETECT_MIN_SIDE); recognition reads the original pixels;
- a detected box at the place of a previous box whose pixels did not change keeps its text, and
  the other boxes are recognised in one batch.

The result replaces the video's cues and subtitle in one transaction, after every frame is read:
a crash midway leaves the previous result whole, and a re-run completes.
"""

import logging
import time

import cv2
import numpy as np
from django.conf import settings
from django.db import transaction

from curation.errors import StageError, StageSkipped
from curation.lib.quality import is_readable
from curation.lib.subtitles import Box, FrameText, Track, confident, subtitle_track
from curation.lib.textchange import BOX_MARGIN, changed_mask, gray_small, region_changed, text_unchanged
from curation.media_store import media_path
from curation.models import Frame, StageStatus, SubtitleCue, Video, VideoSubtitle
from curation.services.ocr import engine as ocr_engine

logger = logging.getLogger("microcurate.ocr")
# Longer side of the picture text is detected on. The stored frames are 360 px on the short side
# (640 on the long one); CRAFT at 480 finds the same subtitle lines for about half the time.
# CRAFT's cost follows the pixels it sees: 1.0 s at 320 px against 4.4 s at 640 for a 640x360
# frame (one thread). Text is detected at half the frame's long side, never below DETECT_MIN_SIDE
# (the stored frames are at most 360 px on the short side, so subtitles stay 9 px or taller).
DETECT_MIN_SIDE = 320
# Before that, a presence check at a quarter of the long side (never below PRESENCE_MIN_SIDE) with
# permissive thresholds: a frame where even it finds nothing has no text worth detecting.
PRESENCE_MIN_SIDE = 160
PRESENCE_THRESHOLDS = {"text_threshold": 0.4, "low_text": 0.3}
# A detected box keeps the previous reading when it overlaps a previous box this much.
SAME_BOX_IOU = 0.6


def _load(frame: Frame) -> np.ndarray | None:
    path = media_path(frame.image)
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except OSError:
        return None
    return cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None


def _iou(a: Box, b: Box) -> float:
    width = min(a.x1, b.x1) - max(a.x0, b.x0)
    height = min(a.y1, b.y1) - max(a.y0, b.y0)
    if width <= 0 or height <= 0:
        return 0.0
    inter = width * height
    union = (a.x1 - a.x0) * (a.y1 - a.y0) + (b.x1 - b.x0) * (b.y1 - b.y0) - inter
    return inter / union if union > 0 else 0.0


def _read_changed(reader, image: np.ndarray, mask: np.ndarray | None, previous: list[Box]) -> list[Box]:
    """Detect on the reduced picture; boxes that did not change keep their reading."""
    height, width = image.shape[:2]
    long_side = max(height, width)
    presence_side = min(long_side, max(PRESENCE_MIN_SIDE, long_side // 4))
    if presence_side < long_side:
        found = ocr_engine.detect(reader, image, max_side=presence_side, **PRESENCE_THRESHOLDS)
        if not found[0] and not found[1]:
            return []
    detect_side = min(long_side, max(DETECT_MIN_SIDE, long_side // 2))
    horizontal, free = ocr_engine.detect(reader, image, max_side=detect_side)
    kept: list[Box] = []
    to_read = []
    for x0, x1, y0, y1 in horizontal:
        box = Box(x0 / width, y0 / height, x1 / width, y1 / height, "", 0.0)
        match = max(previous, key=lambda p: _iou(p, box), default=None) if mask is not None else None
        if (
            match is not None
            and match not in kept
            and _iou(match, box) >= SAME_BOX_IOU
            and not region_changed(mask, (box.x0, box.y0, box.x1, box.y1), BOX_MARGIN)
        ):
            kept.append(match)
        else:
            to_read.append([x0, x1, y0, y1])
    return kept + ocr_engine.recognise(reader, image, to_read, free)


def frames_read(frames: list[Frame], *, languages: tuple[str, ...]) -> list[FrameText]:
    """Every sampled frame's text, reading as few frames (and boxes) as the pixels allow."""
    reader = None
    results: list[FrameText] = []
    last_gray: np.ndarray | None = None
    last_boxes: list[Box] = []
    for frame in frames:
        image = _load(frame)
        if image is None:
            logger.warning("frame %s: %s is missing or not a JPEG", frame, frame.image)
            results.append(FrameText(frame.index, frame.timestamp, None, "unreadable"))
            continue
        if not is_readable(image):
            results.append(FrameText(frame.index, frame.timestamp, None, "flat"))
            continue
        gray = gray_small(image)
        if last_gray is not None and text_unchanged(
            last_gray, gray, [(b.x0, b.y0, b.x1, b.y1) for b in last_boxes]
        ):
            results.append(FrameText(frame.index, frame.timestamp, tuple(last_boxes), "reused"))
            continue
        if reader is None:
            reader = ocr_engine.reader_get(languages)
        mask = changed_mask(last_gray, gray) if last_gray is not None else None
        boxes = confident(_read_changed(reader, image, mask, last_boxes))
        results.append(FrameText(frame.index, frame.timestamp, tuple(boxes), "ocr"))
        last_gray, last_boxes = gray, boxes
    return results


def video_ocr(video: Video) -> dict:
    """The OCR stage's run function (see curation.services.pipeline)."""
    if not settings.MICROCURATE_OCR_ENABLED:
        raise StageSkipped("OCR is turned off (MICROCURATE_OCR_ENABLED)")
    if video.frames_status != StageStatus.DONE:
        raise StageError(f"the frames stage has not finished (it is {video.frames_status})")
    dataset = video.dataset
    languages = ocr_engine.ocr_languages(dataset.settings)
    frames = list(Frame.objects.filter(video=video).order_by("index"))
    started = time.perf_counter()
    texts = frames_read(frames, languages=languages)
    track = subtitle_track(texts, interval=1.0 / dataset.sample_fps, duration=video.duration)
    seconds = time.perf_counter() - started
    subtitle_store(video=video, track=track, languages=languages, seconds=seconds)
    logger.info(
        "video %s: %d cues, %s in %.1f s%s",
        video.id, len(track.cues), track.counts, seconds, f" ({track.reason})" if track.reason else "",
    )  # fmt: skip
    return {}


def subtitle_store(
    *, video: Video, track: Track, languages: tuple[str, ...], seconds: float
) -> VideoSubtitle:
    """Replace the video's cues and subtitle with `track`, all or nothing."""
    counts = track.counts
    with transaction.atomic():
        Video.objects.select_for_update().filter(id=video.id).first()
        SubtitleCue.objects.filter(video=video).delete()
        SubtitleCue.objects.bulk_create(
            SubtitleCue(video=video, index=c.index, start=c.start, end=c.end, text=c.text) for c in track.cues
        )
        subtitle, _ = VideoSubtitle.objects.update_or_create(
            video=video,
            defaults={
                "text": track.text,
                "reason": track.reason,
                "languages": list(languages),
                "watermarks": track.watermarks,
                "frames": [
                    {
                        "index": f.index,
                        "timestamp": f.timestamp,
                        "status": f.status,
                        "boxes": None if f.boxes is None else [b.as_list() for b in f.boxes],
                    }
                    for f in track.frames
                ],
                "frames_read": counts.get("ocr", 0),
                "frames_reused": counts.get("reused", 0),
                "frames_skipped": counts.get("flat", 0) + counts.get("unreadable", 0),
                "seconds": round(seconds, 3),
            },
        )
    return subtitle


def subtitle_render(*, video: Video, fmt: str) -> str:
    """The video's cues as SRT or WebVTT."""
    from curation.lib.subtitles import Cue, render_srt, render_vtt

    cues = [
        Cue(c.index, c.start, c.end, c.text)
        for c in SubtitleCue.objects.filter(video=video).order_by("index")
    ]
    if fmt == "srt":
        return render_srt(cues)
    if fmt == "vtt":
        return render_vtt(cues)
    raise ValueError(f"unknown subtitle format {fmt!r}; use srt or vtt")

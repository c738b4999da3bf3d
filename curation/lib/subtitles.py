"""Subtitles from per-frame OCR (USV Stage III), pure Python: no Django, no OCR engine.

One frame per second is read; text that stays at the same place across most of the video
(platform logos, user handles) is a watermark and kept out of the subtitles; each sampled
frame's subtitle is carried to the frames next to it until the next sample (a frame at `t`
covers `[t, t + interval)`); consecutive frames with the same text make one cue; the cues in
time order make the video-level subtitle.
"""

import re
from collections import Counter
from dataclasses import dataclass, field, replace
from difflib import SequenceMatcher

# EasyOCR's English model reads real Latin text at 0.6-1.0 and non-Latin scripts (the Chinese
# hard subtitles of rapidvideocr_2_hardsub.mp4) as garbage at 0.06-0.15.
MIN_CONFIDENCE = 0.4
# Reads of up to SHORT_TEXT letters or digits: script confusion yields short plausible tokens.
SHORT_TEXT = 3
SHORT_MIN_CONFIDENCE = 0.8
# A watermark is on screen in at least this share of the readable frames, and in at least
# WATERMARK_MIN_FRAMES of them (a 2-frame clip says nothing about persistence).
WATERMARK_SHARE = 0.6
WATERMARK_MIN_FRAMES = 3
# Same place: box centres closer than this (fractions of the frame's width and height).
SAME_PLACE = 0.05
# Same text: normalised texts at least this similar (OCR misreads a letter now and then).
SAME_TEXT = 0.8
# A box with text that OCR reads differently every time (a logo) is a watermark when it sits
# at the same place in this share of the frames, outside the subtitle band.
LOGO_SHARE = 0.8
SUBTITLE_BAND_TOP = 0.6


@dataclass(frozen=True)
class Box:
    """One piece of text on a frame; coordinates are fractions of the frame's width and height."""

    x0: float
    y0: float
    x1: float
    y1: float
    text: str
    confidence: float
    watermark: bool = False

    @property
    def centre(self) -> tuple[float, float]:
        return ((self.x0 + self.x1) / 2, (self.y0 + self.y1) / 2)

    def as_list(self) -> list:
        return [self.x0, self.y0, self.x1, self.y1, self.text, round(self.confidence, 4), self.watermark]

    @classmethod
    def from_list(cls, row: list) -> "Box":
        x0, y0, x1, y1, text, confidence, watermark = row
        return cls(x0, y0, x1, y1, text, confidence, watermark)


@dataclass(frozen=True)
class FrameText:
    """The OCR result of one sampled frame. `boxes` is None when the frame was not read (dark,
    uniform, unreadable file): it then has no subtitle and does not count for watermarks."""

    index: int
    timestamp: float
    boxes: tuple[Box, ...] | None
    status: str = "ocr"


@dataclass(frozen=True)
class Cue:
    index: int
    start: float
    end: float
    text: str


@dataclass
class Track:
    frames: list[FrameText]
    cues: list[Cue]
    watermarks: list[str]
    text: str
    reason: str = ""
    counts: dict = field(default_factory=dict)


def normalise(text: str) -> str:
    """Case, punctuation and spacing removed: what two reads of one subtitle share."""
    return " ".join(re.sub(r"[\W_]+", " ", text.casefold()).split())


def similar(a: str, b: str, threshold: float = SAME_TEXT) -> bool:
    if a == b:
        return True
    if not a or not b:
        return False
    return SequenceMatcher(None, a, b, autojunk=False).ratio() >= threshold


def confident(boxes: list[Box], min_confidence: float = MIN_CONFIDENCE) -> list[Box]:
    """Boxes read with enough confidence and holding at least one letter or digit; a short read
    needs more (a Chinese glyph read as "78J" at 0.63 in rapidvideocr_2_hardsub.mp4)."""
    kept = []
    for box in boxes:
        letters = len(normalise(box.text).replace(" ", ""))
        needed = SHORT_MIN_CONFIDENCE if letters <= SHORT_TEXT else min_confidence
        if letters and box.confidence >= needed:
            kept.append(box)
    return kept


def _near(a: Box, b: Box, tolerance: float = SAME_PLACE) -> bool:
    (ax, ay), (bx, by) = a.centre, b.centre
    return abs(ax - bx) <= tolerance and abs(ay - by) <= tolerance


def _persistent(frames: list[FrameText], matches, share: float) -> set[tuple[int, int]]:
    """(frame position, box position) of every box that `matches` boxes at the same place in at
    least `share` of the readable frames."""
    readable = [f for f in frames if f.boxes is not None]
    needed = max(WATERMARK_MIN_FRAMES, share * len(readable))
    if len(readable) < WATERMARK_MIN_FRAMES:
        return set()
    marked: set[tuple[int, int]] = set()
    for fi, frame in enumerate(frames):
        for bi, box in enumerate(frame.boxes or ()):
            if (fi, bi) in marked:
                continue
            members = [
                (fj, bj)
                for fj, other in enumerate(frames)
                for bj, candidate in enumerate(other.boxes or ())
                if _near(box, candidate) and matches(box, candidate)
            ]
            if len({fj for fj, _ in members}) >= needed:
                marked.update(members)
    return marked


def subtitle_like(box: Box) -> bool:
    """Centred in the subtitle band: a subtitle however long it stays (handles and logos sit in
    corners and at the edges)."""
    x, y = box.centre
    return y >= SUBTITLE_BAND_TOP and abs(x - 0.5) <= SAME_PLACE


def mark_watermarks(frames: list[FrameText]) -> list[FrameText]:
    """The frames with watermark boxes flagged: the same text at the same place in most readable
    frames (unless it is centred in the subtitle band), or any text at the same place above the
    subtitle band in nearly all of them."""
    same_text = _persistent(
        frames,
        lambda a, b: not subtitle_like(a) and similar(normalise(a.text), normalise(b.text)),
        WATERMARK_SHARE,
    )
    logo = _persistent(
        frames, lambda a, b: a.centre[1] < SUBTITLE_BAND_TOP and b.centre[1] < SUBTITLE_BAND_TOP, LOGO_SHARE
    )
    marked = same_text | logo
    out = []
    for fi, frame in enumerate(frames):
        if frame.boxes is None:
            out.append(frame)
            continue
        boxes = tuple(replace(b, watermark=(fi, bi) in marked) for bi, b in enumerate(frame.boxes))
        out.append(replace(frame, boxes=boxes))
    return out


def frame_subtitle(frame: FrameText) -> str:
    """The frame's non-watermark text in reading order: lines top to bottom, left to right."""
    boxes = sorted((b for b in frame.boxes or () if not b.watermark), key=lambda b: b.centre[1])
    lines: list[list[Box]] = []
    for box in boxes:
        if lines:
            last = lines[-1][-1]
            if abs(box.centre[1] - last.centre[1]) <= (last.y1 - last.y0) / 2:
                lines[-1].append(box)
                continue
        lines.append([box])
    return " ".join(
        " ".join(b.text.strip() for b in sorted(line, key=lambda b: b.x0)) for line in lines
    ).strip()


def build_cues(frames: list[FrameText], *, interval: float, duration: float | None = None) -> list[Cue]:
    """Consecutive frames whose subtitles read alike merge into one cue from the first frame's
    time to the last frame's time plus `interval`; a frame without text ends the cue."""
    runs: list[tuple[float, float, list[str]]] = []
    key = ""
    for frame in sorted(frames, key=lambda f: f.timestamp):
        text = frame_subtitle(frame)
        current = normalise(text)
        end = frame.timestamp + interval
        if duration is not None:
            end = min(end, max(duration, frame.timestamp))
        if current and runs and key and similar(current, key):
            start, _, texts = runs[-1]
            runs[-1] = (start, end, [*texts, text])
        elif current:
            runs.append((frame.timestamp, end, [text]))
        key = current
    cues = []
    for start, end, texts in runs:
        # The reading most frames agree on (ties: the first), not whichever frame came first.
        text = Counter(texts).most_common(1)[0][0]
        cues.append(
            Cue(index=len(cues) + 1, start=round(start, 3), end=round(max(end, start + 0.001), 3), text=text)
        )
    return cues


def video_text(cues: list[Cue]) -> str:
    """The video-level subtitle: cue texts in time order, a repeated cue said once."""
    texts: list[str] = []
    for cue in sorted(cues, key=lambda c: (c.start, c.index)):
        if not texts or normalise(texts[-1]) != normalise(cue.text):
            texts.append(cue.text)
    return " ".join(texts)


def subtitle_track(frames: list[FrameText], *, interval: float, duration: float | None = None) -> Track:
    """Watermarks marked, cues merged, video-level text, and why the text is empty if it is."""
    frames = mark_watermarks(frames)
    cues = build_cues(frames, interval=interval, duration=duration)
    watermarks = sorted({b.text for f in frames for b in f.boxes or () if b.watermark})
    counts = Counter(f.status for f in frames)
    text = video_text(cues)
    return Track(
        frames, cues, watermarks, text, "" if text else _empty_reason(frames, watermarks), dict(counts)
    )


def _empty_reason(frames: list[FrameText], watermarks: list[str]) -> str:
    if not frames:
        return "no frames were sampled"
    readable = [f for f in frames if f.boxes is not None]
    unreadable = sum(f.status == "unreadable" for f in frames)
    flat = sum(f.status == "flat" for f in frames)
    if not readable:
        parts = []
        if flat:
            parts.append(f"{flat} flat (no edges to read)")
        if unreadable:
            parts.append(f"{unreadable} unreadable")
        return f"no good frames: {' and '.join(parts)} of {len(frames)}"
    if watermarks:
        return f"only watermark text found ({', '.join(watermarks)})"
    note = f"; {unreadable} frame files unreadable" if unreadable else ""
    return f"no text found in {len(readable)} readable frames{note}"


def _timestamp(seconds: float, separator: str) -> str:
    millis = max(0, round(seconds * 1000))
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{millis:03d}"


def _one_block(text: str) -> str:
    # A blank line ends a cue in both formats; keep each cue's text one block.
    return "\n".join(line for line in text.splitlines() if line.strip())


def render_srt(cues: list[Cue]) -> str:
    blocks = [
        f"{n}\n{_timestamp(c.start, ',')} --> {_timestamp(c.end, ',')}\n{_one_block(c.text)}\n"
        for n, c in enumerate(cues, start=1)
    ]
    return "\n".join(blocks)


def render_vtt(cues: list[Cue]) -> str:
    def escape(text: str) -> str:
        return _one_block(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")

    blocks = [f"{_timestamp(c.start, '.')} --> {_timestamp(c.end, '.')}\n{escape(c.text)}\n" for c in cues]
    return "\n".join(["WEBVTT\n", *blocks])

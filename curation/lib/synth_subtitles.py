"""Clips with burnt-in text made by ffmpeg `drawtext`, for the OCR tests and benchmark: a title
card, subtitles at the bottom, a handle in a corner, with exact ground truth because we choose it.

Besides test patterns, the looks of text-first social video: white text with a dark outline on
black or on a plain colour (``pattern="color=c=..."``, ``boxed=False``) and text over sparse bright
shapes on a dark background (``background=sparse_shapes(...)``), the frames issue 17 lost.
"""

import subprocess
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from curation.lib.synth import FONT, _escape


@dataclass(frozen=True)
class TextSpan:
    start: float
    end: float
    text: str


def _drawtext(text: str, size: int, x: str, y: str, span: TextSpan | None = None, boxed: bool = True) -> str:
    enable = f":enable='gte(t\\,{span.start})*lt(t\\,{span.end})'" if span else ""
    style = ":box=1:boxcolor=black@0.7:boxborderw=4" if boxed else ":borderw=2:bordercolor=black"
    return (
        f"drawtext=fontfile={FONT}:text='{_escape(text)}':fontsize={size}:fontcolor=white"
        f"{style}:x={x}:y={y}{enable}"
    )


def sparse_shapes(width: int, height: int, *, seed: int = 0, count: int = 30) -> np.ndarray:
    """An RGB picture of `count` small bright discs and squares on a dark blue vertical gradient
    (night sky, confetti, bokeh): low entropy and spread, yet full of edges."""
    rng = np.random.default_rng(seed)
    ramp = np.linspace(8, 30, height, dtype=np.float32)[:, None, None] * np.float32([0.6, 0.7, 1.0])
    img = np.ascontiguousarray(np.broadcast_to(ramp, (height, width, 3)).astype(np.uint8))
    unit = max(1, min(width, height) // 360)  # shapes keep their share of the frame at any size
    for _ in range(count):
        colour = tuple(int(c) for c in rng.integers(150, 256, 3))
        x, y = int(rng.integers(0, width)), int(rng.integers(0, height))
        if rng.random() < 0.6:
            cv2.circle(img, (x, y), unit * int(rng.integers(1, 5)), colour, -1, cv2.LINE_AA)
        else:
            side = unit * int(rng.integers(2, 9))
            cv2.rectangle(img, (x, y), (x + side, y + side), colour, -1)
    return img


def subtitled_clip(
    destination: Path,
    *,
    seconds: float,
    subtitles: list[TextSpan],
    title: TextSpan | None = None,
    handle: str = "",
    width: int = 320,
    height: int = 180,
    pattern: str = "smptebars",
    fps: int = 25,
    font_scale: float = 1.0,
    boxed: bool = True,
    background: np.ndarray | None = None,
    ffmpeg: str = "ffmpeg",
) -> Path:
    """Write an H.264 clip of `pattern` (or of the still RGB picture `background`, which sets the
    size) with the title card in the middle, each subtitle at the bottom during [start, end) and
    `handle` in the top-right corner throughout; text on a dark box when `boxed`, else outlined."""
    if background is not None:
        height, width = background.shape[:2]
    filters = []
    side = min(width, height) * font_scale  # font sizes follow the shorter side
    if handle:
        filters.append(_drawtext(handle, max(12, int(side / 13)), "w-text_w-8", "8", boxed=boxed))
    if title:
        size = max(16, int(side / 7))
        filters.append(_drawtext(title.text, size, "(w-text_w)/2", "(h-text_h)/2", title, boxed))
    for span in subtitles:
        size = max(14, int(side / 10))
        filters.append(_drawtext(span.text, size, "(w-text_w)/2", "h-text_h-14", span, boxed))
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_name(destination.stem + ".part" + destination.suffix)
    if background is None:
        # A pattern with options of its own ("color=c=black") takes the rest after a colon.
        options = f"size={width}x{height}:rate={fps}:duration={seconds}"
        source = ["-f", "lavfi", "-i", f"{pattern}{':' if '=' in pattern else '='}{options}"]
    else:
        still = destination.with_name(destination.stem + ".background.png")
        cv2.imwrite(str(still), cv2.cvtColor(background, cv2.COLOR_RGB2BGR))
        source = ["-loop", "1", "-framerate", str(fps), "-t", str(seconds), "-i", str(still)]
    command = [
        ffmpeg, "-v", "error", "-y", *source,
        *(["-vf", ",".join(filters)] if filters else []),
        "-c:v", "libx264", "-preset", "ultrafast", "-crf", "18", "-pix_fmt", "yuv420p", str(partial),
    ]  # fmt: skip
    try:
        subprocess.run(command, check=True, capture_output=True, timeout=120)
    finally:
        if background is not None:
            still.unlink(missing_ok=True)
    partial.replace(destination)
    return destination

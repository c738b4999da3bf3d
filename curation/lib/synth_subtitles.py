"""Clips with burnt-in text made by ffmpeg `drawtext`, for the OCR tests and benchmark: a title
card, subtitles at the bottom, a handle in a corner, with exact ground truth because we choose it."""

import subprocess
from dataclasses import dataclass
from pathlib import Path

from curation.lib.synth import FONT, _escape


@dataclass(frozen=True)
class TextSpan:
    start: float
    end: float
    text: str


def _drawtext(text: str, size: int, x: str, y: str, span: TextSpan | None = None) -> str:
    enable = f":enable='gte(t\\,{span.start})*lt(t\\,{span.end})'" if span else ""
    return (
        f"drawtext=fontfile={FONT}:text='{_escape(text)}':fontsize={size}:fontcolor=white"
        f":box=1:boxcolor=black@0.7:boxborderw=4:x={x}:y={y}{enable}"
    )


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
    ffmpeg: str = "ffmpeg",
) -> Path:
    """Write an H.264 clip of `pattern` with the title card in the middle, each subtitle at the
    bottom during [start, end) and `handle` in the top-right corner throughout."""
    filters = []
    side = min(width, height) * font_scale  # font sizes follow the shorter side
    if handle:
        filters.append(_drawtext(handle, max(12, int(side / 13)), "w-text_w-8", "8"))
    if title:
        filters.append(_drawtext(title.text, max(16, int(side / 7)), "(w-text_w)/2", "(h-text_h)/2", title))
    for span in subtitles:
        filters.append(_drawtext(span.text, max(14, int(side / 10)), "(w-text_w)/2", "h-text_h-14", span))
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_name(destination.stem + ".part" + destination.suffix)
    # A pattern with options of its own ("color=c=black") takes the rest after a colon.
    source = f"{pattern}{':' if '=' in pattern else '='}size={width}x{height}:rate={fps}:duration={seconds}"
    command = [
        ffmpeg, "-v", "error", "-y", "-f", "lavfi", "-i", source,
        *(["-vf", ",".join(filters)] if filters else []),
        "-c:v", "libx264", "-preset", "ultrafast", "-crf", "18", "-pix_fmt", "yuv420p", str(partial),
    ]  # fmt: skip
    subprocess.run(command, check=True, capture_output=True, timeout=120)
    partial.replace(destination)
    return destination

"""Synthetic clips made with ffmpeg, for the demo, tests and benchmarks: exact ground truth
(duration, size, audio, rotation) because we choose it."""

import subprocess
from pathlib import Path

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace(":", "\\:").replace("'", "\u2019").replace("%", "\\%")


def synth_clip(
    destination: Path,
    *,
    seconds: float = 6.0,
    width: int = 320,
    height: int = 568,
    fps: int = 25,
    audio: bool = True,
    text: str = "",
    pattern: str = "testsrc2",
    rotate_metadata: int | None = None,
    ffmpeg: str = "ffmpeg",
) -> Path:
    """Write an H.264 clip (AAC audio when `audio`) showing `pattern` with `text` on it."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    video = f"{pattern}=size={width}x{height}:rate={fps}:duration={seconds}"
    filters = []
    if text and Path(FONT).exists():
        filters.append(
            f"drawtext=fontfile={FONT}:text='{_escape(text)}':fontsize={max(12, width // 14)}"
            ":fontcolor=white:box=1:boxcolor=black@0.6:x=(w-text_w)/2:y=h-2*text_h"
        )
    command = [ffmpeg, "-v", "error", "-y", "-f", "lavfi", "-i", video]
    if audio:
        command += ["-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}"]
    if filters:
        command += ["-vf", ",".join(filters)]
    command += ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]
    if audio:
        command += ["-c:a", "aac", "-b:a", "64k", "-shortest"]
    partial = destination.with_name(destination.stem + ".part" + destination.suffix)
    subprocess.run([*command, str(partial)], check=True, capture_output=True, timeout=120)
    if rotate_metadata is not None:
        # ffmpeg 5 writes the display matrix only when remuxing (-c copy), not when encoding.
        rotated = destination.with_name(destination.stem + ".rot" + destination.suffix)
        subprocess.run(
            [ffmpeg, "-v", "error", "-y", "-i", str(partial), "-c", "copy",
             "-metadata:s:v:0", f"rotate={rotate_metadata}", str(rotated)],
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip
        rotated.replace(partial)
    partial.replace(destination)
    return destination

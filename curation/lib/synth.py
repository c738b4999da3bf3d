"""Synthetic clips made with ffmpeg, for the demo, tests and benchmarks: exact ground truth
(duration, size, audio, rotation) because we choose it."""

import subprocess
from pathlib import Path

import numpy as np

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
MAX_VFR_FRAMES = 300


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


def scene_picture(seed: int, *, width: int = 320, height: int = 568) -> np.ndarray:
    """A sharp, bright RGB picture of its own for every seed: 20-40 random shapes on a two-colour
    gradient (the frames stage keeps it: not dark, blurry or uniform; two seeds are far apart)."""
    import cv2  # only the demo and tests draw pictures

    rng = np.random.default_rng(seed)
    ramp = np.linspace(0, 1, height)[:, None, None]
    top, bottom = rng.integers(60, 256, 3), rng.integers(60, 256, 3)
    column = (top * (1 - ramp) + bottom * ramp).astype(np.uint8)
    img = np.ascontiguousarray(np.broadcast_to(column, (height, width, 3)))
    for _ in range(int(rng.integers(20, 40))):
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        x, y = int(rng.integers(0, width)), int(rng.integers(0, height))
        shape = int(rng.integers(0, 3))
        if shape == 0:
            cv2.circle(img, (x, y), int(rng.integers(8, width // 4)), colour, -1, cv2.LINE_AA)
        elif shape == 1:
            corner = (x + int(rng.integers(10, width // 2)), y + int(rng.integers(10, height // 3)))
            cv2.rectangle(img, (x, y), corner, colour, -1)
        else:
            points = np.stack([rng.integers(0, width, 4), rng.integers(0, height, 4)], axis=1)
            cv2.fillPoly(img, [points.astype(np.int32)], colour, cv2.LINE_AA)
    return img


def scene_clip(
    destination: Path,
    *,
    seed: int,
    scenes: int = 3,
    seconds: float = 6.0,
    width: int = 320,
    height: int = 568,
    fps: int = 10,
    audio: bool = True,
    text: str = "",
    ffmpeg: str = "ffmpeg",
) -> Path:
    """An H.264 clip of `scenes` pictures of its own (scene_picture of seed * 100 + k), each on
    screen for an equal share of `seconds`, with `text` on it and a tone whose pitch depends on the
    seed: unlike test patterns, two seeds never look like re-uploads of one clip, and the frames
    stage finds one candidate per scene."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    frames = max(scenes, int(round(seconds * fps)))
    pictures = [scene_picture(seed * 100 + k, width=width, height=height) for k in range(scenes)]
    data = b"".join(pictures[min(n * scenes // frames, scenes - 1)].tobytes() for n in range(frames))
    command = [ffmpeg, "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width}x{height}",
               "-r", str(fps), "-i", "pipe:"]  # fmt: skip
    if audio:
        command += ["-f", "lavfi", "-i", f"sine=frequency={220 + 20 * (seed % 40)}:duration={seconds}"]
    if text and Path(FONT).exists():
        command += [
            "-vf",
            f"drawtext=fontfile={FONT}:text='{_escape(text)}':fontsize={max(12, width // 14)}"
            ":fontcolor=white:box=1:boxcolor=black@0.6:x=(w-text_w)/2:y=h-2*text_h",
        ]
    command += ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]
    if audio:
        command += ["-c:a", "aac", "-b:a", "64k", "-shortest"]
    partial = destination.with_name(destination.stem + ".part" + destination.suffix)
    subprocess.run([*command, str(partial)], input=data, check=True, capture_output=True, timeout=120)
    partial.replace(destination)
    return destination


def story_clip(
    destination: Path,
    segments: list[tuple[np.ndarray, float]],
    *,
    fps: float = 5.0,
    crf: int = 16,
    timestamps: list[float] | None = None,
    ffmpeg: str = "ffmpeg",
) -> Path:
    """Write an H.264 MP4 of still RGB pictures, each shown for its number of seconds: exact ground
    truth (which picture is on screen at every instant).

    With `timestamps` (seconds, increasing) the clip has one frame per timestamp, showing the
    picture of the segment the timestamp falls in, and a variable frame rate.
    """
    if not segments:
        raise ValueError("no segments")
    height, width = segments[0][0].shape[:2]
    ends = np.cumsum([seconds for _, seconds in segments])
    filters = []
    if timestamps is None:
        timestamps = [n / fps for n in range(int(round(ends[-1] * fps)))]
    else:
        if len(timestamps) > MAX_VFR_FRAMES:
            raise ValueError(f"at most {MAX_VFR_FRAMES} frames with explicit timestamps")
        # Each frame gets its own timestamp (a sum of eq(N,i)*t terms), so a variable rate is exact.
        pts = "+".join(f"eq(N\\,{i})*{t:.6f}" for i, t in enumerate(timestamps))
        filters = ["-vf", f"setpts=({pts})/TB", "-fps_mode", "vfr"]
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_name(destination.stem + ".part" + destination.suffix)
    command = [
        ffmpeg, "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width}x{height}",
        "-r", str(fps), "-i", "pipe:", *filters,
        "-c:v", "libx264", "-preset", "ultrafast", "-crf", str(crf), "-pix_fmt", "yuv420p",
        "-movflags", "+faststart", "-video_track_timescale", "1000", str(partial),
    ]  # fmt: skip
    data = bytearray()
    for t in timestamps:
        segment = min(int(np.searchsorted(ends, t, side="right")), len(segments) - 1)
        image = segments[segment][0]
        if image.shape != (height, width, 3) or image.dtype != np.uint8:
            raise ValueError("every picture must be a uint8 RGB array of the first one's size")
        data += image.tobytes()
    subprocess.run(command, input=bytes(data), check=True, capture_output=True, timeout=120)
    partial.replace(destination)
    return destination

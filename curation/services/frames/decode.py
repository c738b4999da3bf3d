"""One decode pass per video: ffmpeg samples, rotates and scales; we read raw RGB frames from a pipe.

The graph (built with ffmpeg-python) is ``fps=F:round=up`` -> rotation -> ``scale`` -> rgb24:

* ``round=up`` makes output frame n the picture on screen at n/F seconds (the last input frame
  starting at or before it), so a clip shorter than one interval still yields frame 0 and a
  variable-frame-rate clip is sampled by its timestamps, not by its frame count.
* Autorotation is switched off (``-noautorotate``) and the display matrix that probe stored is
  applied with ``transpose``/``hflip,vflip``, so the frames show what a player shows, and the scale
  to the display size also applies a non-square sample aspect ratio.
* Frames are scaled (area-averaged, never up) so the shorter side is at most WORKING_SHORT_SIDE:
  the size at which curation.lib.quality measures, and the size of the stored JPEGs.
* The input is read with the demuxer the probe found (``-f``) and only from local files, so a file
  replaced after the probe by a playlist or a concat script is not followed to other files.
* ``-xerror`` stops at the first decoding error, so a file that breaks midway fails the stage with
  ffmpeg's reason instead of yielding a silently shortened or smeared set of frames.
"""

import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass

import ffmpeg
import numpy as np

from curation.errors import StageError, TransientStageError
from curation.lib.quality import WORKING_SHORT_SIDE

DECODE_TIMEOUT_SECONDS = 600
_ROTATIONS = {0: [], 90: ["cclock"], -270: ["cclock"], -90: ["clock"], 270: ["clock"], 180: None, -180: None}


class DecodeFailed(StageError):
    """ffmpeg could not decode the whole video."""


@dataclass(frozen=True)
class SampledFrame:
    index: int
    timestamp: float
    rgb: np.ndarray  # height x width x 3 uint8


def working_size(
    display_width: int, display_height: int, short_side: int = WORKING_SHORT_SIDE
) -> tuple[int, int]:
    """(width, height) of the sampled frames: the display size, scaled down (never up) so the
    shorter side is at most `short_side`; even numbers, as the JPEG and YUV paths prefer."""
    if display_width <= 0 or display_height <= 0:
        raise ValueError(f"invalid display size {display_width}x{display_height}")
    scale = min(1.0, short_side / min(display_width, display_height))
    width = max(2, round(display_width * scale / 2) * 2)
    height = max(2, round(display_height * scale / 2) * 2)
    return width, height


def decode_command(
    path: str,
    *,
    demuxer: str,
    fps: float,
    rotation: int,
    width: int,
    height: int,
    ffmpeg_binary: str = "ffmpeg",
) -> list[str]:
    """The ffmpeg command line writing rgb24 frames of `width` x `height` to stdout."""
    if rotation not in _ROTATIONS:
        raise ValueError(f"rotation {rotation} is not a quarter turn")
    stream = ffmpeg.input(path, f=demuxer, protocol_whitelist="file", noautorotate=None, xerror=None).video
    stream = stream.filter("fps", fps=fps, round="up")
    turns = _ROTATIONS[rotation]
    if turns is None:
        stream = stream.hflip().vflip()
    for direction in turns or []:
        stream = stream.filter("transpose", dir=direction)
    stream = stream.filter("scale", width, height, flags="area").filter("setsar", "1")
    output = stream.output("pipe:", format="rawvideo", pix_fmt="rgb24", an=None, sn=None, dn=None)
    return output.global_args("-nostdin", "-v", "error").compile(cmd=ffmpeg_binary)


def decode_frames(
    path: str,
    *,
    demuxer: str,
    fps: float,
    rotation: int,
    width: int,
    height: int,
    ffmpeg_binary: str = "ffmpeg",
) -> Iterator[SampledFrame]:
    """Frames sampled at `fps`, in order, one pass, constant memory (one frame at a time).

    Raises DecodeFailed (with ffmpeg's last error lines) if ffmpeg stops with an error, after the
    frames before the error were yielded: the caller must treat what it got so far as void.
    """
    command = decode_command(
        path,
        demuxer=demuxer,
        fps=fps,
        rotation=rotation,
        width=width,
        height=height,
        ffmpeg_binary=ffmpeg_binary,
    )
    frame_bytes = width * height * 3
    # stderr goes to a file: a pipe we did not drain could fill up and block ffmpeg.
    with tempfile.TemporaryFile() as stderr:
        try:
            process = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=stderr
            )
        except OSError as exc:
            raise TransientStageError(f"could not start ffmpeg: {exc}") from None
        index = 0
        try:
            while True:
                data = process.stdout.read(frame_bytes)
                if len(data) < frame_bytes:
                    break
                rgb = np.frombuffer(data, np.uint8).reshape(height, width, 3)
                yield SampledFrame(index=index, timestamp=index / fps, rgb=rgb)
                index += 1
            try:
                code = process.wait(timeout=DECODE_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                raise TransientStageError(f"ffmpeg took longer than {DECODE_TIMEOUT_SECONDS} s") from None
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
            process.stdout.close()
        stderr.seek(0)
        reason = _last_lines(stderr.read())
    if code != 0:
        raise DecodeFailed(f"ffmpeg stopped after {index} frame(s) (exit status {code}): {reason}")
    if len(data) not in (0, frame_bytes):
        raise DecodeFailed(f"ffmpeg wrote a partial frame after {index} frame(s): {reason}")
    if index == 0:
        raise DecodeFailed(f"ffmpeg decoded no frames{': ' + reason if reason else ''}")


def _last_lines(raw: bytes, count: int = 3) -> str:
    lines = [line.strip() for line in raw.decode(errors="replace").splitlines() if line.strip()]
    return " | ".join(lines[-count:]) if lines else "no message"

"""Proxy stage: a browser-playable copy of every video for the annotation pages.

H.264 (yuv420p, main profile) + AAC in MP4 with the index up front (faststart), the shorter
side at most 720 px, the display rotation applied to the pixels (ffmpeg's autorotate), audio
kept when the source has a decodable audio stream. AVI/MPEG-4 Part 2, VP9 with alpha (the
alpha plane is dropped), rotated phone clips and containers without a duration all come out
the same. Crowdworkers only ever receive this file, never the original.
"""

import logging
import subprocess
from pathlib import Path

from django.conf import settings

from curation.errors import InvalidSource, StageError, TransientStageError
from curation.media_store import media_path, proxy_partial_path, proxy_relative_path, video_file
from curation.models import Video
from curation.services.probe import probed_demuxer

logger = logging.getLogger("microcurate.proxy")
PROXY_TIMEOUT_SECONDS = 600
MAX_SHORT_SIDE = 720
# Landscape: height ≤ 720; portrait: width ≤ 720; even sizes for yuv420p.
SCALE = (
    f"scale=w='if(gte(iw,ih),-2,trunc(min({MAX_SHORT_SIDE},iw)/2)*2)'"
    f":h='if(gte(iw,ih),trunc(min({MAX_SHORT_SIDE},ih)/2)*2,-2)',setsar=1"
)


def _source(video: Video) -> Path:
    try:
        return video_file(video)
    except InvalidSource as exc:
        raise StageError(str(exc)) from None


def _command(source: Path, target: Path, *, demuxer: str, audio: bool) -> list[str]:
    # The probed demuxer and local files only: see curation.services.frames.decode.
    command = [settings.MICROCURATE_FFMPEG, "-v", "error", "-nostdin", "-y"]
    command += ["-protocol_whitelist", "file", "-f", demuxer, "-i", str(source)]
    command += ["-map", "0:v:0", "-vf", SCALE, "-c:v", "libx264", "-preset", "veryfast", "-crf", "23"]
    command += ["-profile:v", "main", "-pix_fmt", "yuv420p"]
    if audio:
        command += ["-map", "0:a:0?", "-c:a", "aac", "-b:a", "128k", "-ac", "2"]
    else:
        command += ["-an"]
    command += ["-movflags", "+faststart", "-f", "mp4", str(target)]
    return command


def _encode(source: Path, target: Path, *, demuxer: str, audio: bool) -> str:
    """Run ffmpeg; '' on success, else its last error line."""
    try:
        done = subprocess.run(
            _command(source, target, demuxer=demuxer, audio=audio),
            capture_output=True,
            timeout=PROXY_TIMEOUT_SECONDS,
        )
    except subprocess.TimeoutExpired:
        raise TransientStageError(f"ffmpeg took longer than {PROXY_TIMEOUT_SECONDS} s") from None
    if done.returncode == 0:
        return ""
    lines = [line.strip() for line in done.stderr.decode(errors="replace").splitlines() if line.strip()]
    return lines[-1] if lines else f"ffmpeg exited with status {done.returncode}"


def video_proxy_orphans_remove(video: Video) -> None:
    """The half-written copy of a run that was killed (the claim holder calls it)."""
    proxy_partial_path(video).unlink(missing_ok=True)


def video_proxy(video: Video) -> dict:
    """Write MEDIA_ROOT/proxies/<dataset>/<video>.mp4; returns the fields to store."""
    source = _source(video)
    demuxer = probed_demuxer(video)
    relative = proxy_relative_path(video)
    target = media_path(relative)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = proxy_partial_path(video)
    keep_audio = video.has_audio is not False
    reason = _encode(source, partial, demuxer=demuxer, audio=keep_audio)
    if reason and keep_audio:
        # A source whose audio stream cannot be decoded still gets a playable, silent proxy;
        # the video stream is what annotators must see. The reason is logged, not hidden.
        logger.warning("video %s: audio not decodable (%s); proxy without audio", video.id, reason)
        reason = _encode(source, partial, demuxer=demuxer, audio=False)
    if reason:
        partial.unlink(missing_ok=True)
        raise StageError(f"ffmpeg could not make a playable copy: {reason}")
    partial.replace(target)
    return {"proxy_path": relative}

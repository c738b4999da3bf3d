"""Turn ffprobe's JSON into the fields a Video stores. Pure: no Django, no subprocess."""

from dataclasses import dataclass
from fractions import Fraction


class NoVideoStream(ValueError):
    pass


class RefusedFormat(ValueError):
    """The file is not one of the containers a video may be (see VIDEO_DEMUXERS)."""


# ffprobe and ffmpeg pick the demuxer from a file's contents, and some demuxers read other
# files: an HLS/DASH playlist or a concat script opens the paths it lists (anywhere on disk,
# outside every media root), image2 expands a number pattern into a sequence. So only
# single-file containers are read, named by the first name of ffmpeg's demuxer (ffprobe's
# format_name is the demuxer's whole list, e.g. "mov,mp4,m4a,3gp,3g2,mj2").
VIDEO_DEMUXERS = frozenset({"asf", "avi", "flv", "matroska", "mov", "mpeg", "mpegts", "ogg"})
# Audio-only files are opened too, so that they fail as before with "no video stream".
AUDIO_DEMUXERS = frozenset({"flac", "mp3", "wav"})
PROBE_DEMUXERS = VIDEO_DEMUXERS | AUDIO_DEMUXERS
_REFUSED_KINDS = {
    "hls": "an HLS playlist",
    "dash": "a DASH manifest",
    "concat": "a concat script",
    "image2": "an image sequence",
}


def format_refusal(format_name: str) -> str:
    """Why a file whose demuxer is `format_name` is not read ("" when it is allowed)."""
    name = format_name.split(",")[0].strip()
    if name in PROBE_DEMUXERS:
        return ""
    kind = _REFUSED_KINDS.get(name)
    if kind is None and name.endswith("_pipe"):
        kind = "a still image"
    allowed = ", ".join(sorted(VIDEO_DEMUXERS))
    if kind:
        return f"the file is {kind} (format {name!r}), not a video container (allowed: {allowed})"
    return f"the format {name or 'unknown'!r} is not a video container (allowed: {allowed})"


def video_demuxer(container: str) -> str:
    """The demuxer to force (`-f`) when ffmpeg reads a video probed as `container`, so a file
    changed after the probe is never read as something else. Raises RefusedFormat."""
    name = container.split(",")[0].strip()
    if name not in VIDEO_DEMUXERS:
        raise RefusedFormat(format_refusal(container) or f"{name!r} is not a video container")
    return name


@dataclass(frozen=True)
class ProbeSummary:
    duration: float | None
    duration_source: str
    fps: float | None
    width: int
    height: int
    rotation: int
    display_width: int
    display_height: int
    has_audio: bool
    video_codec: str
    audio_codec: str
    container: str
    size_bytes: int | None


def _fraction(raw: str | None) -> Fraction | None:
    if not raw or raw in {"0/0", "N/A"}:
        return None
    try:
        value = Fraction(raw.replace(":", "/"))
    except (ValueError, ZeroDivisionError):
        return None
    return value if value > 0 else None


def _float(raw) -> float | None:
    try:
        value = float(raw)
    except (TypeError, ValueError):
        return None
    return value if value >= 0 else None


def _clock_seconds(raw: str | None) -> float | None:
    """Matroska's DURATION tag: "00:00:05.000000000"."""
    if not raw:
        return None
    try:
        hours, minutes, seconds = raw.split(":")
        return int(hours) * 3600 + int(minutes) * 60 + float(seconds)
    except ValueError:
        return None


def stream_rotation(stream: dict) -> int:
    """The display-matrix rotation (newer ffprobe) or the legacy `rotate` tag, as ffprobe
    reports it, normalised to -270..270 in quarter turns."""
    for side_data in stream.get("side_data_list") or []:
        if "rotation" in side_data:
            return _quarter_turns(side_data["rotation"])
    rotate = (stream.get("tags") or {}).get("rotate")
    # The legacy tag counts clockwise; the display matrix counter-clockwise.
    return _quarter_turns(-float(rotate)) if rotate else 0


def _quarter_turns(degrees) -> int:
    turns = round(float(degrees) / 90) % 4
    return {0: 0, 1: 90, 2: 180, 3: -90}[turns]


def _main_video_stream(streams: list[dict]) -> dict | None:
    # Cover art in audio files is a one-frame "video" stream marked attached_pic.
    videos = [
        s
        for s in streams
        if s.get("codec_type") == "video" and not (s.get("disposition") or {}).get("attached_pic")
    ]
    return max(videos, key=lambda s: (s.get("width") or 0) * (s.get("height") or 0), default=None)


def probe_summarise(info: dict) -> ProbeSummary:
    streams = info.get("streams") or []
    fmt = info.get("format") or {}
    video = _main_video_stream(streams)
    if video is None:
        kinds = sorted({s.get("codec_type", "?") for s in streams}) or ["none"]
        raise NoVideoStream(f"no video stream (streams: {', '.join(kinds)})")
    audio = next((s for s in streams if s.get("codec_type") == "audio"), None)
    width, height = int(video.get("width") or 0), int(video.get("height") or 0)
    if width <= 0 or height <= 0:
        raise NoVideoStream("the video stream has no frame size")
    rotation = stream_rotation(video)
    sar = _fraction(video.get("sample_aspect_ratio")) or Fraction(1)
    shown_width, shown_height = round(width * sar), height
    if rotation in (90, -90, 270, -270):
        shown_width, shown_height = shown_height, shown_width
    duration, source = _float(fmt.get("duration")), "container"
    if not duration:
        duration, source = _float(video.get("duration")), "stream"
    if not duration:
        duration, source = _clock_seconds((video.get("tags") or {}).get("DURATION")), "stream tag"
    if not duration:
        duration, source = None, ""
    fps = _fraction(video.get("avg_frame_rate")) or _fraction(video.get("r_frame_rate"))
    return ProbeSummary(
        duration=duration,
        duration_source=source,
        fps=float(fps) if fps else None,
        width=width,
        height=height,
        rotation=rotation,
        display_width=shown_width,
        display_height=shown_height,
        has_audio=audio is not None,
        video_codec=video.get("codec_name", ""),
        audio_codec=audio.get("codec_name", "") if audio else "",
        container=fmt.get("format_name", ""),
        size_bytes=int(fmt["size"]) if str(fmt.get("size", "")).isdigit() else None,
    )


def duration_from_packets(packets: list[dict]) -> float | None:
    """The end of the last packet: pts + duration, for containers that store no duration."""
    ends = []
    for packet in packets:
        pts = _float(packet.get("pts_time"))
        if pts is not None:
            ends.append(pts + (_float(packet.get("duration_time")) or 0.0))
    return max(ends) if ends else None

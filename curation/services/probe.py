"""Probe stage: fetch a URL source into the media store, then read the container with ffprobe."""

import logging
import re
import subprocess
from pathlib import Path

import ffmpeg
from django.conf import settings
from django.utils import timezone

from curation.errors import InvalidSource, StageError, TransientStageError
from curation.lib.probe import (
    PROBE_DEMUXERS,
    NoVideoStream,
    RefusedFormat,
    duration_from_packets,
    format_refusal,
    probe_summarise,
    video_demuxer,
)
from curation.media_store import file_sha256, source_download_path, source_partials, video_file
from curation.models import Video
from curation.services.sources import url_download

logger = logging.getLogger("microcurate.probe")
PROBE_TIMEOUT_SECONDS = 120
# ffprobe refuses any other demuxer before it reads a header, so a playlist's or a concat
# script's entries are never opened; only local files may be opened at all.
_READ_ONLY = {"format_whitelist": ",".join(sorted(PROBE_DEMUXERS)), "protocol_whitelist": "file"}
# "[hls @ 0x55d6dd8b8280] Format not on whitelist '...'": the log names the demuxer it picked.
_REFUSED = re.compile(rb"\[(\S+) @ 0x[0-9a-fA-F]+\] Format not on whitelist")


def _ffprobe_reason(exc: ffmpeg.Error) -> str:
    lines = [line.strip() for line in (exc.stderr or b"").decode(errors="replace").splitlines()]
    lines = [line for line in lines if line]
    return lines[-1] if lines else f"ffprobe exited with an error ({exc})"


def _ffprobe(path: Path, **options) -> dict:
    try:
        return ffmpeg.probe(
            str(path),
            cmd=settings.MICROCURATE_FFPROBE,
            timeout=PROBE_TIMEOUT_SECONDS,
            **_READ_ONLY,
            **options,
        )
    except ffmpeg.Error as exc:
        refused = _REFUSED.search(exc.stderr or b"")
        if refused:
            raise StageError(format_refusal(refused.group(1).decode(errors="replace"))) from None
        raise StageError(f"ffprobe could not read the file: {_ffprobe_reason(exc)}") from None
    except subprocess.TimeoutExpired:
        raise TransientStageError(f"ffprobe took longer than {PROBE_TIMEOUT_SECONDS} s") from None


def probed_demuxer(video: Video) -> str:
    """The demuxer every later ffmpeg call forces for `video` (with file-only protocols), so
    ffmpeg never guesses a format from contents that may have changed since the probe."""
    if not video.container:
        raise StageError("the video has not been probed (no container)")
    try:
        return video_demuxer(video.container)
    except RefusedFormat as exc:
        raise StageError(f"{exc}; probe the video again") from None


def _fetch(video: Video) -> Path:
    """The local file to probe. URL sources are downloaded once into the media store: a file
    there was renamed into place only after a complete download (url_download keeps a partial
    one as `.part` and removes it), so the file local_path names is whole and is reused."""
    if video.source_kind == Video.SourceKind.URL and not (
        video.local_path and Path(video.local_path).is_file()
    ):
        return _download(video)
    try:
        return video_file(video)
    except InvalidSource as exc:
        raise StageError(str(exc)) from None


def _download(video: Video) -> Path:
    destination = source_download_path(video)
    try:
        url_download(video.source, destination)
    except InvalidSource as exc:
        raise StageError(str(exc)) from None
    except OSError as exc:
        raise TransientStageError(f"download failed: {exc}") from None
    sha256 = file_sha256(destination)
    twin = (
        Video.objects.filter(dataset_id=video.dataset_id, sha256=sha256)
        .exclude(id=video.id)
        .values_list("external_id", flat=True)
        .first()
    )
    if twin is not None:
        destination.unlink(missing_ok=True)
        raise StageError(f"same file contents as video {twin!r} in this dataset")
    Video.objects.filter(id=video.id).update(local_path=str(destination), sha256=sha256)
    return destination


def video_probe(video: Video) -> dict:
    """The probe fields for `video`; raises StageError with ffprobe's reason on bad files."""
    path = _fetch(video)
    if path.stat().st_size == 0:
        raise StageError("the file is empty (0 bytes)")
    info = _ffprobe(path)
    try:
        summary = probe_summarise(info)
        video_demuxer(summary.container)
    except (NoVideoStream, RefusedFormat) as exc:
        raise StageError(str(exc)) from None
    fields = dict(summary.__dict__)
    if summary.duration is None:
        packets = _ffprobe(path, select_streams="v:0", show_entries="packet=pts_time,duration_time")
        fields["duration"] = duration_from_packets(packets.get("packets") or [])
        fields["duration_source"] = "packets" if fields["duration"] is not None else ""
    if fields["duration"] is None:
        raise StageError("no duration in the container and no timestamped video packets")
    fields["size_bytes"] = fields["size_bytes"] or path.stat().st_size
    fields["probed_at"] = timezone.now()
    return fields


def video_probe_orphans_remove(video: Video) -> None:
    """A download a killed run left half-written (url_download writes `<name>.part`, then renames)."""
    for partial in source_partials(video):
        partial.unlink(missing_ok=True)

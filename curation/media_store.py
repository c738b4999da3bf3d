"""The media store: where a video's file is, the folder layout under MEDIA_ROOT, and hashing.

Every module that reads or writes media asks here; none builds a path itself.

Local files are read only from the media roots (MEDIA_ROOT and MICROCURATE_MEDIA_ROOTS). A path
is resolved (symlinks included) before it is compared with the roots, so `../..` and symlinks
that leave a root are refused.

What the pipeline writes lives under MEDIA_ROOT, one folder per kind of place::

    sources/<dataset>/<video><ext>            a URL source, downloaded once by the probe stage
    thumbnails/<dataset>/<video><ext>         a posted thumbnail given as a URL (frames stage)
    frames/<dataset>/<video>/<run>/<n>.jpg    sampled frames, one run folder kept (frames stage)
    proxies/<dataset>/<video>.mp4             the browser-playable copy (proxy stage)
    demo/                                     the demo's generated clips and manifest

Paths stored on rows (`Frame.image`, `Video.proxy_path`) are relative to MEDIA_ROOT;
`media_path` turns them back into files. Light on purpose (no numpy, no cv2): ingest imports it.
"""

import hashlib
import os
from pathlib import Path
from typing import TYPE_CHECKING

from django.conf import settings

from curation.errors import InvalidSource
from curation.services.sources import is_url

if TYPE_CHECKING:
    from curation.models import Video

SOURCES_DIR = "sources"
THUMBNAILS_DIR = "thumbnails"
FRAMES_DIR = "frames"
PROXIES_DIR = "proxies"
DEMO_DIR = "demo"


# Roots and checks


def media_root() -> Path:
    """MEDIA_ROOT: where downloads and generated media go; relative paths in uploads start here."""
    return Path(settings.MEDIA_ROOT)


def media_roots() -> list[Path]:
    """The folders local files may be read from, resolved."""
    roots = [settings.MEDIA_ROOT, *settings.MICROCURATE_MEDIA_ROOTS]
    return [Path(os.path.realpath(root)) for root in roots]


def local_path_resolve(raw: str, *, base_dir: Path | None = None, must_exist: bool = True) -> Path:
    """The real path of `raw` (relative paths start at `base_dir`), if it lies under a root."""
    if not raw or not raw.strip():
        raise InvalidSource("the path is empty")
    if "\x00" in raw:
        raise InvalidSource("the path contains a NUL byte")
    path = Path(raw)
    if not path.is_absolute():
        path = (base_dir or Path.cwd()) / path
    real = Path(os.path.realpath(path))
    if not any(real == root or root in real.parents for root in media_roots()):
        raise InvalidSource(
            f"{raw!r} resolves to {str(real)!r}, outside the allowed media roots "
            "(MEDIA_ROOT and MICROCURATE_MEDIA_ROOTS)"
        )
    if must_exist:
        if not real.exists():
            raise InvalidSource(f"{raw!r}: no such file")
        if not real.is_file():
            raise InvalidSource(f"{raw!r} is not a regular file")
    return real


# A video's files


def video_file(video: "Video") -> Path:
    """The file to decode for `video` (probe, frames, proxy): the manifest's file, or the
    download of its URL source, resolved under the media roots. Raises InvalidSource when the URL
    has not been downloaded yet, or the file is missing or outside the roots."""
    if video.source_kind == "url" and not video.local_path:
        raise InvalidSource("the source has not been downloaded (probe has not run)")
    return local_path_resolve(video.local_path or video.source)


def video_proxy_file(proxy_path: str) -> Path | None:
    """The file to serve or show for a video (annotation pages, exports): its browser-playable
    copy, from the stored `Video.proxy_path`; None before the proxy stage made one. The file may
    have gone since: callers check. Originals are never served."""
    return media_path(proxy_path) if proxy_path else None


def media_path(relative: str) -> Path:
    """A file the pipeline wrote, from its path relative to MEDIA_ROOT as stored on a row."""
    return media_root() / relative


def media_relative(path: Path) -> str:
    """The path to store on a row for a file under MEDIA_ROOT."""
    return str(path.relative_to(media_root()))


# The folder layout: one function per kind of place


def _suffix(url: str, default: str) -> str:
    return Path(url.split("?", 1)[0]).suffix[:8] or default


def source_download_path(video: "Video") -> Path:
    """MEDIA_ROOT/sources/<dataset>/<video><ext>: where a URL source is downloaded to."""
    return media_root() / SOURCES_DIR / str(video.dataset_id) / f"{video.id}{_suffix(video.source, '.bin')}"


def source_partials(video: "Video") -> list[Path]:
    """The half-written downloads of `video` a killed run left (`<name>.part`, see url_download)."""
    folder = media_root() / SOURCES_DIR / str(video.dataset_id)
    return [*folder.glob(f"{video.id}.part"), *folder.glob(f"{video.id}.*.part")]


def thumbnail_file(video: "Video") -> Path:
    """The posted thumbnail's local file: for a URL, its copy at
    MEDIA_ROOT/thumbnails/<dataset>/<video><ext> (the frames stage downloads it); for a path, the
    path resolved under the media roots. Either may not exist. Raises InvalidSource for a path
    outside the roots."""
    raw = (video.thumbnail or "").strip()
    if is_url(raw):
        return media_root() / THUMBNAILS_DIR / str(video.dataset_id) / f"{video.id}{_suffix(raw, '.img')}"
    return local_path_resolve(raw, must_exist=False)


def video_frames_folder(video: "Video") -> Path:
    """MEDIA_ROOT/frames/<dataset>/<video>/: one sub-folder per run, only the current one kept."""
    return media_root() / FRAMES_DIR / str(video.dataset_id) / str(video.id)


def proxy_relative_path(video: "Video") -> str:
    """proxies/<dataset>/<video>.mp4, relative to MEDIA_ROOT (stored as `Video.proxy_path`)."""
    return f"{PROXIES_DIR}/{video.dataset_id}/{video.id}.mp4"


def proxy_partial_path(video: "Video") -> Path:
    """Where the proxy stage writes before renaming into place (`<video>.part.mp4`)."""
    target = media_path(proxy_relative_path(video))
    return target.with_name(target.stem + ".part.mp4")


def demo_folder() -> Path:
    """MEDIA_ROOT/demo/: the demo's generated clips, thumbnails and manifest."""
    return media_root() / DEMO_DIR


# Hashing


def file_sha256(path: Path) -> str:
    """The file's SHA-256 (hex): two rows of a dataset never hold the same contents."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()

"""The media store: one place says where a video's files are and how MEDIA_ROOT is laid out."""

import hashlib
import os
import subprocess
import sys

import pytest

from curation import media_store
from curation.errors import InvalidSource
from curation.models import Video
from tests.conftest import ROOT


def _video(**fields) -> Video:
    return Video(id=7, dataset_id=3, **fields)


def test_the_folder_layout_under_media_root_is_one_folder_per_kind_of_place(media_dir):
    video = _video(
        source="https://cdn.example.com/a/clip.webm?sig=1", thumbnail="https://cdn.example.com/t.png"
    )

    assert media_store.source_download_path(video) == media_dir / "sources/3/7.webm"
    assert media_store.thumbnail_file(video) == media_dir / "thumbnails/3/7.png"
    assert media_store.video_frames_folder(video) == media_dir / "frames/3/7"
    assert media_store.proxy_relative_path(video) == "proxies/3/7.mp4"
    assert media_store.proxy_partial_path(video) == media_dir / "proxies/3/7.part.mp4"
    assert media_store.demo_folder() == media_dir / "demo"
    assert media_store.media_relative(media_dir / "frames/3/7/run/00000.jpg") == "frames/3/7/run/00000.jpg"


def test_a_url_without_an_extension_is_stored_under_a_neutral_one(media_dir):
    video = _video(source="https://cdn.example.com/watch?v=1", thumbnail="https://cdn.example.com/t")

    assert media_store.source_download_path(video).name == "7.bin"
    assert media_store.thumbnail_file(video).name == "7.img"


def test_the_file_to_decode_is_the_download_or_the_manifest_file_under_the_roots(media_dir, tmp_path):
    clip = media_dir / "clip.mp4"
    clip.write_bytes(b"video")

    assert media_store.video_file(_video(source_kind="file", source=str(clip), local_path="")) == clip
    assert (
        media_store.video_file(_video(source_kind="url", source="https://x/c.mp4", local_path=str(clip)))
        == clip
    )
    with pytest.raises(InvalidSource, match="has not been downloaded"):
        media_store.video_file(_video(source_kind="url", source="https://x/c.mp4", local_path=""))
    outside = tmp_path / "outside.mp4"
    outside.write_bytes(b"video")
    with pytest.raises(InvalidSource, match="outside the allowed media roots"):
        media_store.video_file(_video(source_kind="file", source=str(outside), local_path=str(outside)))


def test_the_file_to_serve_is_the_proxy_never_the_original(media_dir):
    assert media_store.video_proxy_file("proxies/3/7.mp4") == media_dir / "proxies/3/7.mp4"
    assert media_store.video_proxy_file("") is None


def test_a_file_hash_is_its_sha256(tmp_path):
    path = tmp_path / "f.bin"
    path.write_bytes(b"x" * (3 << 20))

    assert media_store.file_sha256(path) == hashlib.sha256(b"x" * (3 << 20)).hexdigest()


def test_the_media_store_loads_without_numpy_or_cv2():
    # Ingest imports it for every manifest row's path and hash.
    code = (
        "import django, sys; django.setup(); import curation.media_store; "
        "print(sorted({'numpy', 'cv2', 'ffmpeg'} & set(sys.modules)))"
    )
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="config.settings")
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"

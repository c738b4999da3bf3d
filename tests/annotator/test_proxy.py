"""The proxy stage on real clips: every ingested video gets a browser-playable H.264/AAC MP4."""

import json
import subprocess
from pathlib import Path

import pytest
from django.conf import settings

from curation.models import Video
from curation.services.ingest import video_ingest
from curation.services.pipeline import STAGES, stage_execute

pytestmark = pytest.mark.django_db


def ffprobe(path: Path) -> dict:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_streams", "-show_format", "-of", "json", str(path)],
        capture_output=True, check=True, text=True,
    )  # fmt: skip
    return json.loads(out.stdout)


def moov_before_mdat(path: Path) -> bool:
    head = path.read_bytes()[: 1 << 16]
    return head.find(b"moov") != -1 and (head.find(b"mdat") == -1 or head.find(b"moov") < head.find(b"mdat"))


def test_the_proxy_stage_runs_after_probe_and_frames():
    names = [stage.name for stage in STAGES]
    assert names.index("probe") < names.index("frames") < names.index("proxy")


@pytest.mark.parametrize(
    ("clip", "size", "audio"),
    [
        ("mmaction2_tests_test.avi", (320, 240), True),  # MPEG-4 Part 2 in AVI, mp3 audio
        ("moviepy_transparent.webm", (200, 200), True),  # VP9 with alpha
        ("jsonize_iphone_rotated_portrait.mov", (320, 568), True),  # stored 568x320, rotation -90
        ("imageio_cockatoo.mp4", (1280, 720), True),  # already 720p: not enlarged
        ("rapidvideocr_2_hardsub.mp4", (1728, 720), True),  # 1920x800: shorter side down to 720
        ("mmaction2_demo.mp4", (340, 256), False),  # no audio track
        ("moviepy_no_duration.webm", (1280, 720), True),  # no duration in the container
    ],
)
def test_every_clip_gets_a_playable_h264_proxy_with_rotation_applied(
    dataset, media_dir, shared_videos, write_manifest, clip, size, audio
):
    video_ingest(
        dataset=dataset,
        path=write_manifest([{"video": str(shared_videos / clip), "id": clip}]),
        pipeline="none",
    )
    video = Video.objects.get()
    for stage in ("probe", "proxy"):  # frames are not needed for the proxy
        assert stage_execute(video_id=video.id, stage_name=stage) == "done", Video.objects.get().error

    video.refresh_from_db()
    proxy = Path(settings.MEDIA_ROOT) / video.proxy_path
    info = ffprobe(proxy)
    streams = {s["codec_type"]: s for s in info["streams"]}
    assert streams["video"]["codec_name"] == "h264" and streams["video"]["pix_fmt"] == "yuv420p"
    assert (streams["video"]["width"], streams["video"]["height"]) == size
    assert not streams["video"].get("side_data_list")  # no rotation left for the player to apply
    assert ("audio" in streams) == audio and (not audio or streams["audio"]["codec_name"] == "aac")
    assert "mp4" in info["format"]["format_name"] and moov_before_mdat(proxy)
    assert video.proxy_path == f"proxies/{dataset.id}/{video.id}.mp4"
    assert not str(proxy).startswith(str(shared_videos))


def test_a_file_ffmpeg_cannot_read_fails_the_stage_with_the_reason(dataset, media_dir, write_manifest):
    broken = media_dir / "broken.mp4"
    broken.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"garbage" * 100)
    video_ingest(
        dataset=dataset, path=write_manifest([{"video": str(broken), "id": "broken"}]), pipeline="none"
    )
    # As if probed: the container the probe found is what ffmpeg is told to read (-f).
    Video.objects.update(container="mov,mp4,m4a,3gp,3g2,mj2")
    video = Video.objects.get()

    assert stage_execute(video_id=video.id, stage_name="proxy") == "failed"

    video.refresh_from_db()
    assert video.error.startswith("proxy: ffmpeg could not make a playable copy:") and not video.proxy_path
    assert not list((media_dir / "proxies").rglob("*.mp4"))

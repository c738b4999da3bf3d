"""Fixtures for annotation tests: videos whose pipeline is done (rows made directly; the proxy
stage itself is tested on real clips in test_proxy.py), candidate frames from real JPEGs, and
a crowd of workers."""

from datetime import timedelta

import cv2
import numpy as np
import pytest
from django.contrib.auth.models import Group
from django.utils import timezone

from annotator.models import Assignment
from curation.lib.synth import synth_clip
from curation.models import Frame, StageStatus, ThumbnailTruth, Video
from tests.processes import database_url


@pytest.fixture
def ready_video(dataset, media_dir, clip_cache):
    """Make a video of `dataset` whose probe, frames and proxy stages are done; the proxy is a
    real H.264 file generated once per session."""
    proxy_cache = clip_cache / "proxy" / "clip.mp4"
    if not proxy_cache.exists():
        synth_clip(proxy_cache, seconds=2, width=160, height=284)
    topics = list(dataset.topics.order_by("id")[:3])
    counter = {"n": 0}

    def make(title: str = "", topic=None, **fields) -> Video:
        counter["n"] += 1
        n = counter["n"]
        proxy = media_dir / "proxies" / f"{n}.mp4"
        proxy.parent.mkdir(parents=True, exist_ok=True)
        proxy.write_bytes(proxy_cache.read_bytes())
        values = {
            "dataset": dataset,
            "external_id": f"v{n}",
            "source": f"/originals/v{n}.mp4",
            "source_kind": "file",
            "title": title or f"video {n}",
            "weak_topic": topic or topics[n % len(topics)],
            "probe_status": StageStatus.DONE,
            "frames_status": StageStatus.DONE,
            "proxy_status": StageStatus.DONE,
            "proxy_path": f"proxies/{n}.mp4",
            "has_audio": True,
        }
        values.update(fields)
        return Video.objects.create(**values)

    return make


@pytest.fixture
def with_frames(media_dir):
    """Give a video `count` candidate frames (real JPEGs) and a ground-truth frame."""

    def make(video: Video, count: int = 4, truth: int = 1) -> list[Frame]:
        frames = []
        for index in range(count):
            image = np.full((90, 160, 3), 40 * index + 20, dtype=np.uint8)
            cv2.putText(image, str(index + 1), (60, 60), cv2.FONT_HERSHEY_SIMPLEX, 1.5, (255, 255, 255), 3)
            relative = f"frames/{video.id}/{index:04d}.jpg"
            (media_dir / relative).parent.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(media_dir / relative), image)
            frames.append(
                Frame.objects.create(
                    video=video, index=index, timestamp=float(index), image=relative, width=160, height=90,
                    brightness=0.5, sharpness=1.0, entropy=5.0, spread=0.5, descriptor=b"",
                    cluster=index, is_candidate=True,
                )
            )  # fmt: skip
        ThumbnailTruth.objects.create(video=video, frame=frames[truth], similarity=0.95)
        return frames

    return make


@pytest.fixture
def crowd(django_user_model):
    """Make n crowdworkers named crowd1..n."""
    group, _ = Group.objects.get_or_create(name="crowdworkers")

    def make(n: int, prefix: str = "crowd") -> list:
        users = []
        for i in range(1, n + 1):
            user = django_user_model.objects.create_user(f"{prefix}{i}", password="pw")
            user.groups.add(group)
            users.append(user)
        return users

    return make


def expire(assignment: Assignment) -> None:
    """Move a lease's expiry into the past (what the clock would do)."""
    Assignment.objects.filter(id=assignment.id).update(lease_expires_at=timezone.now() - timedelta(seconds=1))


@pytest.fixture
def api_server(transactional_db, tmp_path):
    """A real gunicorn server (2 processes × 25 threads) on the test database."""
    import os
    import socket
    import subprocess
    import sys
    import time
    import urllib.request
    from pathlib import Path

    from django.conf import settings

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "MICROCURATE_SUBMIT_RATE": "100000/min",
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
    }
    log = tmp_path / "gunicorn.log"
    root = Path(__file__).resolve().parents[2]
    with open(log, "w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "config.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "2",
             "--threads", "25", "--worker-class", "gthread", "--backlog", "512"],
            cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(f"{url}/accounts/login/", timeout=2).read()
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail(f"gunicorn did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.2)
    yield url
    process.terminate()
    process.wait(timeout=20)

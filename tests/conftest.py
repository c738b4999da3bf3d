import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings

from curation.lib.synth import synth_clip
from curation.services.datasets import dataset_create
from tests.processes import database_url

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("MICROCURATE_SHARED_DATA", ROOT.parent / "shared" / "data"))
VIDEOS = SHARED_DATA / "videos"


@pytest.fixture(scope="session")
def shared_videos() -> Path:
    if not VIDEOS.is_dir():
        pytest.fail(f"the shared test clips are missing: {VIDEOS}")
    return VIDEOS


@pytest.fixture
def media_dir(settings, tmp_path) -> Path:
    """A fresh MEDIA_ROOT for one test; the shared data stays an allowed root."""
    media = tmp_path / "media"
    media.mkdir()
    settings.MEDIA_ROOT = media
    return media


@pytest.fixture(scope="session")
def clip_cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("clips")


@pytest.fixture
def make_clip(clip_cache, media_dir):
    """Generate a clip once per session (by its parameters) and copy it into MEDIA_ROOT."""

    def make(name: str, **params) -> Path:
        key = "-".join(f"{k}={v}" for k, v in sorted(params.items())).replace("/", "_") or "default"
        cached = clip_cache / key / "clip.mp4"
        if not cached.exists():
            synth_clip(cached, **params)
        target = media_dir / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(cached, target)
        return target

    return make


@pytest.fixture
def write_manifest(tmp_path, media_dir):
    """Write rows (dicts → JSONL, or raw text/bytes) into a manifest under MEDIA_ROOT."""

    def write(rows, name: str = "manifest.jsonl") -> Path:
        path = media_dir / name
        if isinstance(rows, bytes):
            path.write_bytes(rows)
        elif isinstance(rows, str):
            path.write_text(rows, encoding="utf-8")
        else:
            path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
        return path

    return write


@pytest.fixture
def dataset(db):
    return dataset_create(slug="usv-sample", name="USV sample", taxonomy="usv")


@pytest.fixture
def open_dataset(db):
    return dataset_create(slug="open-tags", name="Open-world tags", open_world_topics=True)


# Personas: a curator (staff), two crowdworkers and an outsider (logged in, no role).
@pytest.fixture
def curator(django_user_model):
    return django_user_model.objects.create_user(
        "curator", password="pw-curator", is_staff=True, is_superuser=True
    )


def _crowdworker(user):
    """Crowdworkers are members of the `crowdworkers` group (made by annotator's migration)."""
    from django.contrib.auth.models import Group

    user.groups.add(Group.objects.get_or_create(name="crowdworkers")[0])
    return user


@pytest.fixture
def worker1(django_user_model):
    return _crowdworker(django_user_model.objects.create_user("worker1", password="pw-worker1"))


@pytest.fixture
def worker2(django_user_model):
    return _crowdworker(django_user_model.objects.create_user("worker2", password="pw-worker2"))


@pytest.fixture
def outsider(django_user_model):
    return django_user_model.objects.create_user("outsider", password="pw-outsider")


@pytest.fixture(autouse=True)
def _ocr_only_where_marked(request, settings):
    """The OCR stage (seconds per frame) runs only in tests marked `ocr`; elsewhere it is skipped."""
    settings.MICROCURATE_OCR_ENABLED = request.node.get_closest_marker("ocr") is not None


@pytest.fixture(autouse=True)
def _models_only_where_marked(request, settings):
    """The model stages (audio, features, score: torch and two networks) run only in tests marked
    `models`; elsewhere they are skipped, as OCR is."""
    settings.MICROCURATE_MODELS_ENABLED = request.node.get_closest_marker("models") is not None


@pytest.fixture(autouse=True)
def _celery_worker_idle_at_teardown(request):
    """A test that queued work for the session's worker ends only once the worker is idle: the
    pipeline goes on past what the test waited for (the model stages after the proxy), and the
    worker's writes would deadlock with the flush that empties the database after the test."""
    yield
    if "celery_worker_process" not in request.fixturenames:
        return
    import redis

    from config.celery import app

    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    deadline = time.monotonic() + 60
    quiet = 0
    while quiet < 2 and time.monotonic() < deadline:
        inspect = app.control.inspect(timeout=1.0)
        busy = any((inspect.active() or {}).values()) or any((inspect.reserved() or {}).values())
        prefix = (settings.CELERY_BROKER_TRANSPORT_OPTIONS or {}).get("global_keyprefix", "")
        queued = sum(broker.llen(prefix + queue) for queue in settings.CELERY_TASK_QUEUES)
        quiet = 0 if busy or queued else quiet + 1
        if quiet < 2:
            time.sleep(0.2)


@pytest.fixture(scope="session")
def celery_worker_process(django_db_setup, django_db_blocker, tmp_path_factory):
    """A real `celery worker` process on the real broker, reading the test database."""
    if not settings.CELERY_BROKER_URL.startswith("redis://"):
        pytest.fail("integration tests need CELERY_BROKER_URL=redis://… (make test sets it)")
    import redis

    redis.Redis.from_url(settings.CELERY_BROKER_URL).flushdb()
    env = dict(os.environ)
    env["DATABASE_URL"] = database_url()
    env["MEDIA_ROOT"] = str(tmp_path_factory.mktemp("worker-media"))
    # EasyOCR costs seconds a frame: this worker skips the OCR stage (tests/curation/test_ocr_celery.py
    # runs its own OCR worker).
    env["MICROCURATE_OCR_ENABLED"] = "0"
    env["MICROCURATE_MODELS_ENABLED"] = "0"
    log = tmp_path_factory.mktemp("worker") / "worker.log"
    with open(log, "w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", "media,ocr,ml",
             "--pool", "solo", "--loglevel", "INFO", "--without-gossip", "--without-mingle"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    from config.celery import app

    deadline = time.monotonic() + 60
    while not app.control.ping(timeout=1.0):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"the Celery worker did not start:\n{log.read_text()[-3000:]}")
    yield process
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()

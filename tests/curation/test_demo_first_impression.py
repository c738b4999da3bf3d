"""The demo as a first impression (issue 18): distinct generated clips with several candidate
frames, make_split's short warnings, the video admin's player and read-only probe results, and a
quiet OCR log."""

import json
import os
import re
import subprocess
import sys
import warnings
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command

from curation.models import Frame, Publisher, Split, StageStatus, Topic, Video
from curation.services.demo import demo_clip
from curation.services.ingest import video_ingest
from curation.services.ocr.engine import quiet_cpu_dataloader
from curation.services.splits import ratios_achieved, ratios_far
from tests.processes import database_url
from tests.waiting import wait_for

pytestmark = pytest.mark.django_db


def test_generated_demo_clips_are_no_near_duplicates_and_keep_several_candidates(
    dataset, media_dir, write_manifest
):
    names = ["meme", "spoof", "joke", "roast", "movie review", "pet cat"]
    rows = []
    for number, topic in enumerate(names):
        clip = demo_clip(media_dir / f"topic-{number:03d}.mp4", number=number, text=topic)
        rows.append({"video": str(clip), "id": f"generated/{number:03d}", "topic": topic})
    assert video_ingest(dataset=dataset, path=write_manifest(rows), pipeline="inline").errors == []

    videos = list(Video.objects.filter(dataset=dataset))
    assert len(videos) == 6
    assert all(v.frames_status == StageStatus.DONE for v in videos)
    # Version 1 showed four test patterns: clips 0 and 4 were one duplicate group, and so on.
    assert [v.duplicate_group_id for v in videos] == [None] * 6
    candidates = [Frame.objects.filter(video=v, is_candidate=True).count() for v in videos]
    assert all(count >= 2 for count in candidates), candidates


def test_demo_setup_without_a_queue_creates_thumbnail_tasks(db, media_dir, monkeypatch):
    from annotator.models import Task, TaskKind
    from curation.services import demo

    taxonomy = demo.usv_taxonomy()
    monkeypatch.setattr(demo, "usv_taxonomy", lambda: taxonomy[:3])
    out = StringIO()
    call_command("demo_setup", pipeline="inline", clips=3, stdout=out)
    dataset = demo.demo_dataset()
    assert Task.objects.filter(dataset=dataset, kind=TaskKind.TOPIC).count() == 3
    assert Task.objects.filter(dataset=dataset, kind=TaskKind.THUMBNAIL).count() == 3

    # The queued demo's follower: with every video's frames done it makes what is missing and stops.
    Task.objects.filter(dataset=dataset, kind=TaskKind.THUMBNAIL).delete()
    followed = StringIO()
    call_command("demo_setup", follow_thumbnails=True, poll=0.01, stdout=followed)
    assert Task.objects.filter(dataset=dataset, kind=TaskKind.THUMBNAIL).count() == 3
    assert "usv-demo: 3 new thumbnail tasks" in followed.getvalue()


def _split_dataset(dataset, *, topics, per_topic, publishers):
    topic_rows = list(Topic.objects.filter(dataset=dataset).order_by("id")[:topics])
    owners = [Publisher.objects.create(dataset=dataset, external_id=f"p{n}") for n in range(publishers)]
    n = 0
    for topic in topic_rows:
        for _ in range(per_topic):
            Video.objects.create(
                dataset=dataset, external_id=f"v{n}", source=f"https://videos.example.com/{n}.mp4",
                source_kind="url", weak_topic=topic, publisher=owners[n % publishers],
                probe_status=StageStatus.DONE,
            )  # fmt: skip
            n += 1
    return topic_rows


def test_the_far_from_asked_rule_is_five_points_or_half_a_share():
    asked = {"train": 0.8, "val": 0.1, "test": 0.1}
    assert ratios_achieved(sizes={"train": 80, "val": 10, "test": 10}, ratios=asked) == asked
    assert not ratios_far(achieved={"train": 0.76, "val": 0.12, "test": 0.12}, ratios=asked)
    assert ratios_far(achieved={"train": 0.9, "val": 0.06, "test": 0.04}, ratios=asked)  # test off 6
    assert ratios_far(achieved={"train": 0.7, "val": 0.15, "test": 0.15}, ratios=asked)  # train off 10
    assert ratios_far(
        achieved={"train": 0.5, "val": 0.49, "test": 0.01}, ratios={"train": 0.5, "val": 0.47, "test": 0.03}
    )  # test off 2 points, but that is two thirds of its share


def test_make_split_says_in_one_line_when_the_subsets_are_far_from_the_ratios(dataset):
    # Seven publishers for 60 videos: indivisible blocks of 8 or 9, so 0.8/0.1/0.1 cannot be made.
    _split_dataset(dataset, topics=2, per_topic=30, publishers=7)
    out, err = StringIO(), StringIO()
    call_command("make_split", dataset=dataset.slug, name="v1", stdout=out, stderr=err)
    split = Split.objects.get(name="v1")
    made = split.stats["achieved_ratios"]
    assert made == {"train": 0.733, "val": 0.133, "test": 0.133}
    lines = [line for line in err.getvalue().splitlines() if "far from the ratios" in line]
    assert lines == [
        "warning: the subsets are far from the ratios asked (asked train 0.80, val 0.10, test 0.10; "
        f"made train {made['train']:.2f}, val {made['val']:.2f}, test {made['test']:.2f}): "
        "publishers and near-duplicate groups are never divided"
    ]


def test_make_split_lists_small_topics_in_one_line_with_the_first_ten(dataset):
    _split_dataset(dataset, topics=2, per_topic=40, publishers=40)
    small = list(Topic.objects.filter(dataset=dataset).order_by("id")[2:15])  # 13 topics, 1 video each
    for n, topic in enumerate(small):
        Video.objects.create(
            dataset=dataset, external_id=f"small{n}", source=f"https://videos.example.com/s{n}.mp4",
            source_kind="url", weak_topic=topic, probe_status=StageStatus.DONE,
        )  # fmt: skip
    out, err = StringIO(), StringIO()
    call_command("make_split", dataset=dataset.slug, name="v1", stdout=out, stderr=err)
    lines = [line for line in err.getvalue().splitlines() if "too few videos" in line]
    assert len(lines) == 1
    head, listed = lines[0].split(": ", 1)
    assert head == "13 topic(s) have too few videos for one in every subset, so they are not stratified"
    assert listed.endswith(" and 3 more")
    shown = listed.removesuffix(" and 3 more").split(", ")
    assert len(shown) == 10 and {name.strip("'") for name in shown} <= {t.name for t in small}


def test_the_ocr_engine_silences_only_torchs_pin_memory_warning():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with quiet_cpu_dataloader():
            warnings.warn(
                "'pin_memory' argument is set as true but no accelerator is found, then device pinned "
                "memory won't be used.",
                UserWarning,
                stacklevel=1,
            )
            warnings.warn("something else went wrong", UserWarning, stacklevel=1)
    assert [str(w.message) for w in caught] == ["something else went wrong"]


ROOT = Path(__file__).resolve().parents[2]


def _filesystem_broker_env(var_dir: Path) -> dict:
    """The demo's environment: no CELERY_BROKER_URL (kombu's filesystem broker under var_dir)."""
    env = {k: v for k, v in os.environ.items() if k not in ("CELERY_BROKER_URL", "CELERY_RESULT_BACKEND")}
    env.update(
        MICROCURATE_VAR_DIR=str(var_dir), DATABASE_URL=database_url(), MEDIA_ROOT=str(settings.MEDIA_ROOT),
        MICROCURATE_OCR_ENABLED="0", MICROCURATE_MODELS_ENABLED="0",
    )  # fmt: skip
    return env


def test_the_demo_broker_polls_ten_times_a_second_and_gives_each_media_stage_a_queue(tmp_path):
    shown = subprocess.run(
        [sys.executable, "-c", "from django.conf import settings as s; import json, django; django.setup(); "
         "print(json.dumps([s.CELERY_BROKER_TRANSPORT_OPTIONS['polling_interval'], "
         "list(s.CELERY_TASK_QUEUES), "
         "{k.rsplit('.', 1)[1]: v['queue'] for k, v in s.CELERY_TASK_ROUTES.items() if '_task' in k}]))"],
        cwd=ROOT, env={**_filesystem_broker_env(tmp_path), "DJANGO_SETTINGS_MODULE": "config.settings"},
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    interval, queues, routes = json.loads(shown.stdout)
    assert interval == 0.1
    assert queues == ["media", "media-audio", "media-frames", "media-proxy", "ocr", "ml"]
    assert [routes[f"video_{s}_task"] for s in ("probe", "audio", "frames", "proxy", "ocr", "features")] == [
        "media", "media-audio", "media-frames", "media-proxy", "ocr", "ml",
    ]  # fmt: skip


@pytest.mark.celery_worker
@pytest.mark.django_db(transaction=True)
def test_on_the_demo_broker_each_video_reaches_its_proxy_before_the_next_is_probed(
    dataset, make_clip, write_manifest, tmp_path
):
    clips = [make_clip(f"c{n}.mp4", seconds=2.0, width=160, height=284, text=f"clip {n}") for n in range(3)]
    manifest = write_manifest([{"video": str(c), "id": c.stem, "topic": "meme"} for c in clips])
    env = _filesystem_broker_env(tmp_path / "var")
    subprocess.run(
        [sys.executable, "manage.py", "ingest", str(manifest), "--dataset", dataset.slug, "--no-progress"],
        cwd=ROOT, env=env, check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    log = tmp_path / "worker.log"
    with open(log, "w") as out:
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q",
             "media,media-audio,media-frames,media-proxy,ocr,ml", "--pool", "solo", "--loglevel", "INFO",
             "--without-gossip", "--without-mingle", "--without-heartbeat"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        done = Video.objects.filter(dataset=dataset, score_status__in=[StageStatus.DONE, StageStatus.SKIPPED])
        try:
            wait_for(lambda: done.count() == 3, seconds=120)
        except AssertionError:
            raise AssertionError(log.read_text()[-3000:]) from None
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    assert set(Video.objects.filter(dataset=dataset).values_list("proxy_status", flat=True)) == {"done"}
    # The media stages in the order the worker received them: each video probed, its audio read,
    # framed and proxied before the next one is probed (on one media queue: three probes first).
    received = re.findall(r"Task curation\.tasks\.video_(\w+)_task\[[^]]+\] received", log.read_text())
    media = [stage for stage in received if stage in ("probe", "audio", "frames", "proxy")]
    assert media == ["probe", "audio", "frames", "proxy"] * 3, received

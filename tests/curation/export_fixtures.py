"""A small released dataset for the export tests, written directly with the ORM: 12 videos of
3 topics and 6 publishers (two videos each), a frozen split v1 grouped by publisher, verdicts
(two noise), subtitles with cues, a duplicate group, real clips for some videos and a proxy."""

import shutil
from pathlib import Path

import pytest
from django.utils import timezone

from curation.models import (
    AggregationRun,
    DuplicateGroup,
    Publisher,
    Split,
    SplitMember,
    SubtitleCue,
    Video,
    VideoSubtitle,
    VideoVerdict,
)
from curation.services.exports import export_request, export_run

# Publisher i // 2 owns videos 2i and 2i + 1; publishers 0-3 train, 4 val, 5 test.
SUBSET_OF_PUBLISHER = ["train", "train", "train", "train", "val", "test"]
NOISE = {1, 9}  # 1 stays in train (flagged); 9 is verified noise the split kept out of val
FILES = {0, 4, 8}  # local clips; the others are URL sources
SUBTITLED = {0: ["hello there", "second line"], 1: ["only cue"]}


# Named by `name=`: test modules import these functions, and a parameter that shadowed an imported
# name would read as a redefinition.
@pytest.fixture(name="var_dir")
def var_dir_fixture(settings, tmp_path) -> Path:
    settings.VAR_DIR = tmp_path / "var"
    return settings.VAR_DIR


def make_split(dataset, name: str, members: list[tuple[Video, str, bool]], *, frozen: bool = True) -> Split:
    split = Split.objects.create(
        dataset=dataset,
        name=name,
        ratios={"train": 0.6, "val": 0.2, "test": 0.2},
        seed=0,
        verdict_method="mv",
    )
    SplitMember.objects.bulk_create(
        SplitMember(split=split, video=video, subset=subset, is_noise=noise)
        for video, subset, noise in members
    )
    if frozen:  # the trigger refuses members of a frozen split: freeze after adding them
        split.frozen_at = timezone.now()
        split.save(update_fields=["frozen_at"])
    return split


@pytest.fixture(name="release")
def release_fixture(dataset, make_clip, media_dir, var_dir):
    topics = list(dataset.topics.order_by("name")[:3])
    publishers = [Publisher.objects.create(dataset=dataset, external_id=f"pub{i}") for i in range(6)]
    group = DuplicateGroup.objects.create(dataset=dataset)
    videos = []
    for i in range(12):
        path = make_clip(f"clips/v{i:02d}.mp4", seconds=1.0, audio=False) if i in FILES else None
        videos.append(
            Video.objects.create(
                dataset=dataset,
                external_id=f"v{i:02d}",
                source=str(path) if path else f"https://cdn.example.com/clips/v{i:02d}.mp4",
                source_kind="file" if path else "url",
                local_path=str(path.resolve()) if path else "",
                title=f"clip {i}",
                weak_topic=topics[i % 3],
                publisher=publishers[i // 2],
                duplicate_group=group if i in (2, 3) else None,
                duration=1.0,
                probe_status="done",
                metadata={"hashtags": ["fyp", f"t{i}"]},
            )
        )
    (media_dir / "proxies").mkdir()
    shutil.copyfile(media_dir / "clips/v04.mp4", media_dir / "proxies/v04.mp4")
    Video.objects.filter(id=videos[4].id).update(proxy_path="proxies/v04.mp4", proxy_status="done")
    run = AggregationRun.objects.create(dataset=dataset, method="mv", items=10, answers=20, workers=2)
    VideoVerdict.objects.bulk_create(
        VideoVerdict(
            video=videos[i], dataset=dataset, run=run, method="mv",
            label="noise" if i in NOISE else "verified", confidence=0.9, answers_used=2,
            answers={"no": 2} if i in NOISE else {"yes": 2},
        )
        for i in range(10)
    )  # fmt: skip
    for i, texts in SUBTITLED.items():
        VideoSubtitle.objects.create(video=videos[i], text=" ".join(texts), languages=["en"])
        SubtitleCue.objects.bulk_create(
            SubtitleCue(video=videos[i], index=n, start=n - 1.0, end=n - 0.2, text=t)
            for n, t in enumerate(texts, start=1)
        )
    VideoSubtitle.objects.create(video=videos[2], reason="no text found", languages=["en"])
    members = [
        (video, "" if i == 9 else SUBSET_OF_PUBLISHER[i // 2], i in NOISE) for i, video in enumerate(videos)
    ]
    make_split(dataset, "v1", members)
    return dataset


def export(dataset, fmt: str, split: str | None = "v1"):
    job = export_request(dataset=dataset, split=split, format=fmt, enqueue=False)
    job = export_run(job_id=job.id)
    assert job.status == "done", job.error
    return job, Path(job.directory)

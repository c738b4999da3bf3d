"""Re-uploads of one clip within a dataset end up in one duplicate group; other clips do not."""

import subprocess
from pathlib import Path

import numpy as np
import pytest

from curation.lib.neardup import pairwise_distances
from curation.lib.quality import frame_descriptor
from curation.models import DuplicateGroup, Video
from curation.services.datasets import dataset_create
from curation.services.frames.duplicates import (
    distances_to_one,
    video_duplicates_find,
    video_duplicates_group,
)
from curation.services.ingest import video_ingest
from tests.fixtures.framesets import textured

pytestmark = pytest.mark.django_db


def reencode(source: Path, target: Path, *args: str) -> Path:
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-i", str(source), *args, "-an", "-c:v", "libx264", str(target)],
        check=True, capture_output=True,
    )  # fmt: skip
    return target


def ingest(dataset, write_manifest, paths, name="manifest.jsonl") -> dict[str, Video]:
    manifest = write_manifest([{"video": str(p), "id": p.name} for p in paths], name=name)
    summary = video_ingest(dataset=dataset, path=manifest, pipeline="inline")
    assert summary.errors == [], summary.errors
    return {v.external_id: v for v in Video.objects.filter(dataset=dataset)}


def test_rescaled_and_trimmed_reuploads_form_one_group(dataset, write_manifest, shared_videos, media_dir):
    chaplin = shared_videos / "moviepy_chaplin.mp4"
    small = reencode(chaplin, media_dir / "small.mp4", "-vf", "scale=480:270", "-crf", "32")
    trimmed = reencode(chaplin, media_dir / "trimmed.mp4", "-ss", "1.5", "-t", "6", "-crf", "28")
    videos = ingest(dataset, write_manifest, [chaplin, shared_videos / "mmaction2_demo.mp4", small, trimmed])

    groups = {name: v.duplicate_group_id for name, v in videos.items()}
    assert groups["moviepy_chaplin.mp4"] is not None
    assert groups["moviepy_chaplin.mp4"] == groups["small.mp4"] == groups["trimmed.mp4"]
    assert groups["mmaction2_demo.mp4"] is None
    assert DuplicateGroup.objects.filter(dataset=dataset).count() == 1
    # The lookup finds them from any member.
    found = video_duplicates_find(video=videos["trimmed.mp4"])
    assert sorted(found) == sorted([videos["moviepy_chaplin.mp4"].id, videos["small.mp4"].id])


def test_the_same_clip_in_another_dataset_is_not_grouped(dataset, write_manifest, shared_videos, media_dir):
    other = dataset_create(slug="other", name="Other")
    chaplin = shared_videos / "moviepy_chaplin.mp4"
    copy = reencode(chaplin, media_dir / "copy.mp4", "-crf", "30")
    ingest(dataset, write_manifest, [chaplin])
    ingest(other, write_manifest, [copy], name="other.jsonl")

    assert not Video.objects.filter(duplicate_group__isnull=False).exists()
    assert not DuplicateGroup.objects.exists()


def test_two_groups_merge_when_a_video_matches_both(dataset, write_manifest, shared_videos, media_dir):
    demo = shared_videos / "mmaction2_demo.mp4"
    chaplin = shared_videos / "moviepy_chaplin.mp4"
    videos = ingest(dataset, write_manifest, [demo, reencode(demo, media_dir / "demo2.mp4", "-crf", "30")])
    first_group = videos["demo2.mp4"].duplicate_group_id
    videos = ingest(
        dataset,
        write_manifest,
        [chaplin, reencode(chaplin, media_dir / "c2.mp4", "-crf", "30")],
        name="b.jsonl",
    )
    second_group = videos["c2.mp4"].duplicate_group_id
    assert None not in (first_group, second_group) and first_group != second_group

    # A video found to match members of both groups joins them into the older one.
    matches = [videos["moviepy_chaplin.mp4"].id, videos["demo2.mp4"].id]
    video_duplicates_group(video=videos["c2.mp4"], duplicate_ids=matches)
    assert set(Video.objects.values_list("duplicate_group_id", flat=True)) == {min(first_group, second_group)}
    assert DuplicateGroup.objects.count() == 1


def test_the_one_to_many_distance_matches_the_pairwise_matrix():
    rng = np.random.default_rng(0)
    descriptors = [frame_descriptor(textured(seed)) for seed in range(6)]
    descriptors.append(frame_descriptor(np.full((90, 160, 3), 128, np.uint8)))  # flat: no structure
    descriptors.append(descriptors[0] + rng.normal(0, 0.01, descriptors[0].shape).astype(np.float32))
    matrix = pairwise_distances(descriptors)

    for i, query in enumerate(descriptors):
        assert np.allclose(distances_to_one(query, np.stack(descriptors)), matrix[i], atol=1e-5)

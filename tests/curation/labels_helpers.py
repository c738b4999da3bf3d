"""Videos made directly (bulk) for the verdict, noise and import tests."""

import pytest

from curation.models import Dataset, ExternalAnswer, Topic, Video


def make_videos(
    dataset: Dataset, n: int, topics: list[Topic] | None = None, prefix: str = "v"
) -> list[Video]:
    """n videos `<prefix>1..n`, their weak topics taken in turn from `topics` (default: the
    dataset's first three)."""
    topics = topics or list(dataset.topics.order_by("id")[:3])
    videos = [
        Video(
            dataset=dataset,
            external_id=f"{prefix}{i}",
            source=f"/originals/{prefix}{i}.mp4",
            source_kind="file",
            title=f"video {i}",
            weak_topic=topics[i % len(topics)] if topics else None,
        )
        for i in range(1, n + 1)
    ]
    Video.objects.bulk_create(videos, batch_size=2000)
    return list(Video.objects.filter(dataset=dataset, external_id__startswith=prefix).order_by("id"))


def stored() -> list[tuple[str, str, str]]:
    """The imported answers, as (video, worker, label)."""
    return sorted(ExternalAnswer.objects.values_list("video__external_id", "worker", "label"))


@pytest.fixture(name="earlier")
def earlier_fixture(dataset):
    """Three videos and one answer an earlier import stored, which no later import may touch."""
    videos = make_videos(dataset, 3)
    ExternalAnswer.objects.create(
        dataset=dataset, video=videos[2], worker="old", label="no", source="old.csv"
    )
    return dataset

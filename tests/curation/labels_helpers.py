"""Videos made directly (bulk) for the verdict, noise and import tests."""

from curation.models import Dataset, Topic, Video


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

from django.db.models import Count, Q, QuerySet

from curation.models import Dataset, StageStatus, Video


def dataset_list() -> QuerySet[Dataset]:
    return Dataset.objects.annotate(
        video_count=Count("videos", distinct=True),
        topic_count=Count("topics", distinct=True),
    ).order_by("slug")


def dataset_pipeline_counts(*, dataset: Dataset) -> dict[str, int]:
    """How many of a dataset's videos are in each probe status."""
    counts = dict(
        Video.objects.filter(dataset=dataset)
        .values_list("probe_status")
        .annotate(n=Count("id"))
        .values_list("probe_status", "n")
    )
    return {status: counts.get(status, 0) for status in StageStatus.values}


def video_list(
    *, dataset: Dataset, probe_status: str | None = None, topic: str | None = None, search: str | None = None
) -> QuerySet[Video]:
    videos = Video.objects.filter(dataset=dataset).select_related("weak_topic", "publisher")
    if probe_status:
        videos = videos.filter(probe_status=probe_status)
    if topic:
        videos = videos.filter(weak_topic__name=topic)
    if search:
        videos = videos.filter(Q(external_id__icontains=search) | Q(title__icontains=search))
    return videos.order_by("id")


def video_get(*, video_id: int) -> Video | None:
    return Video.objects.select_related("dataset", "weak_topic", "publisher").filter(id=video_id).first()

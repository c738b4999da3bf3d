from django.db.models import Count, F, Q, QuerySet

from curation.models import Dataset, StageStatus, Video, VideoFeature, VideoScore


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


def video_filmstrip(*, video_id: int) -> dict | None:
    """A video, its frames in order, its thumbnail ground truth and its duplicate group: the staff
    filmstrip page, in four queries whatever the number of frames."""
    video = (
        Video.objects.select_related("dataset", "weak_topic", "thumbnail_truth__frame")
        .defer("signature")
        .filter(id=video_id)
        .first()
    )
    if video is None:
        return None
    frames = list(video.frames.defer("descriptor").order_by("index"))
    twins = []
    if video.duplicate_group_id is not None:
        twins = list(
            Video.objects.filter(duplicate_group_id=video.duplicate_group_id)
            .exclude(id=video.id)
            .only("id", "external_id")
            .order_by("id")
        )
    scores = VideoScore.objects.filter(video=video).select_related("thumbnail_frame")
    scores = list(scores.order_by(F("model_run_id").asc(nulls_first=True), "id"))
    # The newest model's thumbnail score of each candidate, shown on its frame.
    thumbnail = scores[-1].thumbnail_scores if scores else {}
    for frame in frames:
        frame.thumbnail_score = thumbnail.get(str(frame.index))
    return {
        "video": video,
        "frames": frames,
        "truth": getattr(video, "thumbnail_truth", None),
        "candidates": sum(f.is_candidate for f in frames),
        "twins": twins,
        "scores": scores,
        "missing_features": dict(
            VideoFeature.objects.filter(video=video, vector__isnull=True).values_list("kind", "reason")
        ),
    }


def dataset_candidate_counts(*, dataset: Dataset) -> dict[int, int]:
    """How many videos (frames done) keep each number of candidate frames (the thumbnail paper:
    most keep 7-12)."""
    per_video = (
        Video.objects.filter(dataset=dataset, frames_status=StageStatus.DONE)
        .annotate(candidates=Count("frames", filter=Q(frames__is_candidate=True)))
        .values_list("candidates", flat=True)
    )
    distribution: dict[int, int] = {}
    for candidates in per_video.iterator(chunk_size=5000):
        distribution[candidates] = distribution.get(candidates, 0) + 1
    return dict(sorted(distribution.items()))

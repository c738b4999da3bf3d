"""Model scores for the annotator's tests, made without the networks: a finished ModelRun (on a
split of the dataset) and VideoScore rows with known numbers."""

from django.utils import timezone

from curation.models import Dataset, ModelRun, Split, Topic, Video, VideoScore


def scored_run(
    dataset: Dataset,
    probabilities: dict[Video, float],
    *,
    tops: dict[Video, tuple[Topic, float]] | None = None,
    name: str = "run-1",
    status: str = ModelRun.Status.DONE,
) -> ModelRun:
    """A ModelRun whose scores give each video's weak topic `probabilities[video]` and, where
    `tops` names one, another topic a higher score (the run's top topic for that video); the
    rest of the probability is spread evenly over the other topics."""
    split = Split.objects.filter(dataset=dataset).first() or Split.objects.create(
        dataset=dataset, name="v1", ratios={"train": 0.8, "test": 0.2}
    )
    topics = list(Topic.objects.filter(dataset=dataset).order_by("id"))
    run = ModelRun.objects.create(
        dataset=dataset,
        split=split,
        version=f"{dataset.slug}/v1/{name}",
        status=status,
        topics=[topic.id for topic in topics],
        finished_at=timezone.now() if status == ModelRun.Status.DONE else None,
    )
    rows = []
    for video, probability in probabilities.items():
        scores = {video.weak_topic_id: probability}
        if tops and video in tops:
            topic, score = tops[video]
            scores[topic.id] = score
        rest = (1.0 - sum(scores.values())) / max(1, len(topics) - len(scores))
        row = [scores.get(topic.id, rest) for topic in topics]
        ranked = sorted(range(len(topics)), key=lambda i: -row[i])[:5]
        rows.append(
            VideoScore(
                video=video,
                model_version=run.version,
                model_run=run,
                topic_scores=row,
                top_topics=[
                    {"topic": topics[i].id, "name": topics[i].name, "score": round(row[i], 4)} for i in ranked
                ],
                weak_topic_probability=probability,
                likely_noise=probability < 0.5,
            )
        )
    VideoScore.objects.bulk_create(rows, batch_size=1000)
    return run

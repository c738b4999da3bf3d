"""Creating annotation tasks for a dataset's videos, and marking gold tasks."""

import random
from dataclasses import dataclass

from django.db import transaction

from annotator.conf import annotation_config
from annotator.errors import TaskCreationError
from annotator.models import Assignment, Task, TaskKind, TopicChoice
from curation.models import Dataset, Frame, StageStatus, ThumbnailTruth, Video
from curation.services.pipeline import STAGES

BATCH = 2000


@dataclass
class TaskCreationSummary:
    kind: str
    created: int = 0
    already_present: int = 0
    not_eligible: int = 0

    def __str__(self) -> str:
        return (
            f"{self.created} new {self.kind} tasks, {self.already_present} already present, "
            f"{self.not_eligible} videos not eligible"
        )


def _priority(video: Video, seed: int) -> float:
    """Model scores first: the least confident weak label is checked first. Without a score,
    a random order that is the same on every run (seeded by the dataset and the video)."""
    score = (video.metadata or {}).get("topic_score")
    if isinstance(score, int | float) and 0 <= score <= 1:
        return 1.0 + (1.0 - float(score))  # above every random priority
    return random.Random(f"{seed}:{video.id}").random()


def _failed(video: Video) -> bool:
    return any(getattr(video, stage.status_field) == StageStatus.FAILED for stage in STAGES)


@transaction.atomic
def tasks_create(
    *, dataset: Dataset, kind: str, limit: int | None = None, only_split: str | None = None
) -> TaskCreationSummary:
    """One task per video and kind, each with `overlap` open slots. Videos that failed the
    pipeline, topic tasks without a weak topic and thumbnail tasks without at least two
    candidate frames are not eligible. Re-running creates only what is missing."""
    if kind not in TaskKind.values:
        raise TaskCreationError(f"unknown task kind {kind!r}; use one of: {', '.join(TaskKind.values)}")
    if limit is not None and limit < 1:
        raise TaskCreationError(f"--limit must be at least 1, not {limit}")
    config = annotation_config(dataset)
    summary = TaskCreationSummary(kind=kind)
    videos = Video.objects.filter(dataset=dataset).order_by("id")
    if only_split:
        # Splits arrive with the manifest (a `split` field is kept in metadata).
        videos = videos.filter(metadata__split=only_split)
    existing = set(Task.objects.filter(dataset=dataset, kind=kind).values_list("video_id", flat=True))
    candidates: dict[int, int] = {}
    truths: dict[int, int | None] = {}
    if kind == TaskKind.THUMBNAIL:
        for video_id in Frame.objects.filter(video__dataset=dataset, is_candidate=True).values_list(
            "video_id", flat=True
        ):
            candidates[video_id] = candidates.get(video_id, 0) + 1
        truths = dict(
            ThumbnailTruth.objects.filter(video__dataset=dataset).values_list("video_id", "frame_id")
        )
    new_tasks = []
    for video in videos.iterator(chunk_size=BATCH):
        if video.id in existing:
            summary.already_present += 1
            continue
        if limit is not None and len(new_tasks) >= limit:
            break
        eligible = not _failed(video) and (
            video.weak_topic_id is not None if kind == TaskKind.TOPIC else candidates.get(video.id, 0) >= 2
        )
        if not eligible:
            summary.not_eligible += 1
            continue
        new_tasks.append(
            Task(
                dataset=dataset,
                video=video,
                kind=kind,
                topic_id=video.weak_topic_id if kind == TaskKind.TOPIC else None,
                needed=config.overlap,
                priority=_priority(video, config.seed),
                truth_frame_id=truths.get(video.id),
            )
        )
    for start in range(0, len(new_tasks), BATCH):
        batch = Task.objects.bulk_create(new_tasks[start : start + BATCH])
        Assignment.objects.bulk_create(
            Assignment(task=task, dataset=dataset, kind=kind, priority=task.priority)
            for task in batch
            for _ in range(task.needed)
        )
    summary.created = len(new_tasks)
    return summary


@transaction.atomic
def task_make_gold(*, task: Task, answer: str) -> Task:
    """Turn an unanswered task into a gold task with a known answer (a choice, or for a
    thumbnail task the id of one of its candidate frames)."""
    task = Task.objects.select_for_update().get(id=task.id)
    if task.answers.exists():
        raise TaskCreationError(f"task {task.id} already has answers; only unanswered tasks can become gold")
    if task.kind == TaskKind.TOPIC and answer not in TopicChoice.values:
        raise TaskCreationError(f"{answer!r} is not a topic answer ({', '.join(TopicChoice.values)})")
    if (
        task.kind == TaskKind.THUMBNAIL
        and not Frame.objects.filter(
            id=int(answer) if str(answer).isdigit() else -1, video_id=task.video_id, is_candidate=True
        ).exists()
    ):
        raise TaskCreationError(f"frame {answer!r} is not a candidate frame of task {task.id}'s video")
    # Gold slots are made per worker when served; the task's fixed slots go (none is answered).
    task.assignments.all().delete()
    task.is_gold, task.gold_answer, task.needed = True, str(answer), 0
    task.save(update_fields=["is_gold", "gold_answer", "needed", "updated_at"])
    return task

"""Creating annotation tasks for a dataset's videos, in a verification order, and marking gold
tasks. The orders and their priorities are in services/ordering.py."""

import heapq
from dataclasses import dataclass

from django.db import transaction

from annotator.conf import HARD_NEGATIVES, LIKELY_NOISE, UNCERTAIN, annotation_config
from annotator.errors import TaskCreationError
from annotator.models import Assignment, Task, TaskKind, TopicChoice
from annotator.services.ordering import (
    MODEL_ORDERS,
    hard_negative_scores,
    model_run_required,
    order_resolve,
    ranking_load,
)
from curation.models import Dataset, Frame, StageStatus, ThumbnailTruth, Video
from curation.services.pipeline import STAGES

BATCH = 2000


@dataclass
class TaskCreationSummary:
    kind: str
    order: str = "random"
    model_version: str = ""
    created: int = 0
    already_present: int = 0
    not_eligible: int = 0
    unscored: int = 0  # new tasks whose video has no score under a model order (ranked last)
    hard_negative_min_score: float | None = None

    def __str__(self) -> str:
        text = (
            f"{self.created} new {self.kind} tasks, {self.already_present} already present, "
            f"{self.not_eligible} videos not eligible; order {self.order}"
        )
        if self.model_version:
            text += f" (model {self.model_version})"
        if self.order in (LIKELY_NOISE, UNCERTAIN):
            text += (
                f"; {self.unscored} of the new tasks' videos have no score "
                "(ranked below every scored one, at random)"
            )
        if self.order == HARD_NEGATIVES:
            text += (
                f"; each asks about a topic other than the video's weak topic that the model "
                f"scores at least {self.hard_negative_min_score}"
            )
        return text


def _failed(video: Video) -> bool:
    return any(getattr(video, stage.status_field) == StageStatus.FAILED for stage in STAGES)


@transaction.atomic
def tasks_create(
    *,
    dataset: Dataset,
    kind: str,
    limit: int | None = None,
    only_split: str | None = None,
    order: str | None = None,
) -> TaskCreationSummary:
    """A round of tasks: per video one task of `kind` (topic tasks ask about the weak topic),
    each with `overlap` open slots, ranked by `order` (default: the dataset's
    `verification_order`; see services/ordering.py); under `hard_negatives`, topic tasks about
    the other topics the model scores high. Videos that failed the pipeline, topic tasks without
    a weak topic and thumbnail tasks without at least two candidate frames are not eligible.
    `limit`: the `limit` highest-priority tasks (in random order, a random sample). Re-running
    creates only what is missing."""
    if kind not in TaskKind.values:
        raise TaskCreationError(f"unknown task kind {kind!r}; use one of: {', '.join(TaskKind.values)}")
    if limit is not None and limit < 1:
        raise TaskCreationError(f"--limit must be at least 1, not {limit}")
    config = annotation_config(dataset)
    order = order_resolve(dataset=dataset, kind=kind, order=order)
    summary = TaskCreationSummary(kind=kind, order=order)
    run = None
    if order in MODEL_ORDERS:
        run = model_run_required(dataset=dataset, order=order)
        summary.model_version = run.version
    videos = Video.objects.filter(dataset=dataset).order_by("id")
    if only_split:
        # Splits arrive with the manifest (a `split` field is kept in metadata).
        videos = videos.filter(metadata__split=only_split)
    existing = set(Task.objects.filter(dataset=dataset, kind=kind).values_list("video_id", "topic_id"))
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
    ranking = ranking_load(order=order, seed=config.seed, run=run)
    hard = {}
    if order == HARD_NEGATIVES:
        summary.hard_negative_min_score = config.hard_negative_min_score
        hard = hard_negative_scores(dataset=dataset, run=run, min_score=config.hard_negative_min_score)
    chosen: list[tuple[float, int, int | None, bool]] = []  # (priority, video, topic, unscored)
    for video in videos.iterator(chunk_size=BATCH):
        if order == HARD_NEGATIVES:
            asked = [(t, s) for t, s in hard.get(video.id, []) if t != video.weak_topic_id]
        else:
            asked = [(video.weak_topic_id if kind == TaskKind.TOPIC else None, None)]
        new = [(topic, score) for topic, score in asked if (video.id, topic) not in existing]
        summary.already_present += len(asked) - len(new)
        if not new:
            continue
        eligible = not _failed(video) and (
            video.weak_topic_id is not None if kind == TaskKind.TOPIC else candidates.get(video.id, 0) >= 2
        )
        if not eligible:
            summary.not_eligible += 1
            continue
        for topic, score in new:
            priority, unscored = (score, False) if score is not None else ranking.priority(video.id)
            chosen.append((priority, video.id, topic, unscored))
    chosen = heapq.nsmallest(limit or len(chosen), chosen, key=lambda c: (-c[0], c[1], c[2] or 0))
    new_tasks = [
        Task(
            dataset=dataset,
            video_id=video_id,
            kind=kind,
            topic_id=topic,
            needed=config.overlap,
            priority=priority,
            selected_by=order,
            truth_frame_id=truths.get(video_id),
        )
        for priority, video_id, topic, _ in chosen
    ]
    for start in range(0, len(new_tasks), BATCH):
        batch = Task.objects.bulk_create(new_tasks[start : start + BATCH])
        Assignment.objects.bulk_create(
            Assignment(task=task, dataset=dataset, kind=kind, priority=task.priority)
            for task in batch
            for _ in range(task.needed)
        )
    summary.created = len(new_tasks)
    summary.unscored = sum(unscored for *_, unscored in chosen)
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

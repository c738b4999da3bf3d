"""Reads for the API and pages, with their joins inside."""

import math
from collections import defaultdict
from datetime import timedelta

from django.db.models import Count, Q, Sum
from django.urls import reverse
from django.utils import timezone

from annotator.media_links import media_token
from annotator.models import Answer, Assignment, Task, TaskKind
from annotator.queries.leasing import Shown, assignment_shown, dataset_by_slug
from curation.models import Dataset, Frame, StageStatus, Video, VideoScore
from curation.services.pipeline import STAGES

QUESTIONS = {
    TaskKind.TOPIC: "By watching, listening and reading this video: is its main topic {topic}?",
    TaskKind.THUMBNAIL: "Which frame would make you most want to watch?",
}


def assignment_payload(*, assignment: Assignment, user, shown: Shown | None = None) -> dict:
    """What a worker sees of a task (`shown`: read with the slot when it was leased; else one
    statement reads it). Never the gold flag, the gold answer, the ground-truth frame or other
    workers' answers: a gold task looks like any other. Never model output either (scores,
    pre-labels, the task's priority or the order that chose it: a guess biases the answer),
    unless the dataset's `show_model_guesses` adds the model's guess to a topic task."""
    if shown is None:
        shown = assignment_shown(assignment_id=assignment.id)
    kind, video_id = shown.kind, shown.video_id
    frames = []
    if kind == TaskKind.THUMBNAIL:
        candidates = Frame.objects.filter(video_id=video_id, is_candidate=True).order_by("index")
        frames = [
            {
                "id": frame_id,
                "number": number,
                "timestamp": timestamp,
                "url": _media_url(user, assignment.id, video_id, frame_id=frame_id),
            }
            for number, (frame_id, timestamp) in enumerate(candidates.values_list("id", "timestamp"), start=1)
        ]
    answer = None
    if assignment.state == Assignment.State.ANSWERED:
        answer = Answer.objects.filter(assignment_id=assignment.id).values("choice", "frame_id").first()
    payload = {
        "id": assignment.id,
        "kind": kind,
        "dataset": shown.dataset,
        "question": QUESTIONS[kind].format(topic=shown.topic or ""),
        "title": shown.title,
        "subtitle": shown.subtitle or "",
        "topic": shown.topic or "",
        "macro_topic": shown.macro_topic or "",
        "video_url": _media_url(user, assignment.id, video_id),
        "has_audio": bool(shown.has_audio),
        "frames": frames,
        "lease_expires_at": assignment.lease_expires_at,
        "answer": answer,
    }
    if shown.model_guesses and kind == TaskKind.TOPIC:
        payload["model_guess"] = _model_guess(assignment.dataset, video_id)
    return payload


def _model_guess(dataset: Dataset, video_id: int) -> dict | None:
    """The latest finished ModelRun's guess for the video: its top topic and the probability that
    the weak topic is right (None: the run did not score it)."""
    # Imported here: the scoring module brings numpy, which only datasets showing guesses need.
    from curation.services.modelling import model_run_latest

    run = model_run_latest(dataset)
    score = None if run is None else VideoScore.objects.filter(video_id=video_id, model_run=run).first()
    if score is None:
        return None
    top = score.top_topics[0]["name"] if score.top_topics else None
    return {"top_topic": top, "weak_topic_probability": score.weak_topic_probability}


def _media_url(user, assignment_id: int, video_id: int, frame_id: int | None = None) -> str:
    token = media_token(user_id=user.pk, video_id=video_id, assignment_id=assignment_id, frame_id=frame_id)
    return reverse("annotator:media", args=[token])


def dataset_for_work(*, slug: str) -> Dataset | None:
    """The dataset a worker asks for work in, with the fields leasing reads (the rest load lazily)."""
    return dataset_by_slug(slug=slug)


# The rate behind the estimate: proxies finished over this window (the pipeline's recent pace).
PREPARING_RATE_WINDOW = timedelta(minutes=10)


def work_preparing(*, dataset: Dataset | None) -> dict | None:
    """When there is no task to hand out: how many videos (of `dataset`, or of every dataset) are
    still on their way to a playable proxy, which is when their tasks can be served, and about how
    many minutes that takes at the rate proxies finished over the last ten minutes (None before
    any did). None when nothing is on its way. Counts only: no model output, safe for a worker."""
    videos = Video.objects.all() if dataset is None else Video.objects.filter(dataset=dataset)
    for stage in STAGES:  # a failed stage stops the video for good: it is not coming
        videos = videos.exclude(**{stage.status_field: StageStatus.FAILED})
    now = timezone.now()
    counts = videos.aggregate(
        waiting=Count("id", filter=Q(proxy_status__in=[StageStatus.PENDING, StageStatus.RUNNING])),
        # No per-stage finish time is stored: a video's updated_at moves with each later stage too,
        # so this slightly overcounts recent proxies (the estimate errs short, never absent).
        recent=Count(
            "id",
            filter=Q(proxy_status=StageStatus.DONE, updated_at__gte=now - PREPARING_RATE_WINDOW),
        ),
    )
    if not counts["waiting"]:
        return None
    per_minute = counts["recent"] / (PREPARING_RATE_WINDOW.total_seconds() / 60)
    eta = math.ceil(counts["waiting"] / per_minute) if per_minute else None
    return {"videos": counts["waiting"], "eta_minutes": eta}


def worker_stats(*, worker) -> dict:
    now = timezone.now()
    start_of_day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    totals = Answer.objects.filter(worker=worker).aggregate(
        answers=Count("id"),
        today=Count("id", filter=Q(created_at__gte=start_of_day)),
        seconds=Sum("seconds"),
    )
    held = Assignment.objects.filter(worker=worker, state="open", lease_expires_at__gt=now).count()
    return {
        "answers": totals["answers"],
        "answers_today": totals["today"],
        "seconds_spent": round(totals["seconds"] or 0.0, 1),
        "held": held,
    }


def dataset_progress(*, dataset: Dataset) -> list[dict]:
    """Per kind: tasks, answers in / needed, verdict counts, mean agreement so far."""
    rows = []
    for kind in TaskKind.values:
        tasks = Task.objects.filter(dataset=dataset, kind=kind, is_gold=False)
        totals = tasks.aggregate(
            tasks=Count("id"),
            answered=Sum("answered"),
            needed=Sum("needed"),
            agreement_sum=Sum("agreement"),
            with_agreement=Count("id", filter=Q(agreement__isnull=False)),
        )
        if not totals["tasks"]:
            continue
        verdicts = defaultdict(
            int, tasks.values_list("verdict").annotate(n=Count("id")).values_list("verdict", "n")
        )
        rows.append(
            {
                "kind": kind,
                "tasks": totals["tasks"],
                "gold_tasks": Task.objects.filter(dataset=dataset, kind=kind, is_gold=True).count(),
                "answered": totals["answered"] or 0,
                "needed": totals["needed"] or 0,
                "complete": totals["tasks"] - verdicts["pending"],
                "verdicts": dict(verdicts),
                "agreement": (
                    round(totals["agreement_sum"] / totals["with_agreement"], 3)
                    if totals["with_agreement"]
                    else None
                ),
            }
        )
    return rows

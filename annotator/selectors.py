"""Reads for the API and pages, with their joins inside."""

from collections import defaultdict

from django.db.models import Count, Q, Sum
from django.utils import timezone

from annotator.models import Answer, Assignment, Task, TaskKind
from annotator.services.media import media_token
from curation.models import Dataset, Frame, VideoSubtitle

QUESTIONS = {
    TaskKind.TOPIC: "By watching, listening and reading this video: is its main topic {topic}?",
    TaskKind.THUMBNAIL: "Which frame would make you most want to watch?",
}


def _subtitle(video) -> str:
    """The video-level subtitle once the OCR stage has run ('' before, or when it found none)."""
    return VideoSubtitle.objects.filter(video_id=video.id).values_list("text", flat=True).first() or ""


def assignment_payload(*, assignment: Assignment, user) -> dict:
    """What a worker sees of a task. Never the gold flag, the gold answer, the ground-truth
    frame or other workers' answers: a gold task looks like any other."""
    if not _loaded(assignment, "task", "video") or not _loaded(assignment, "dataset"):
        assignment = Assignment.objects.select_related("task__video", "task__topic", "dataset").get(
            id=assignment.id
        )
    task, video = assignment.task, assignment.task.video
    topic = task.topic.name if task.topic else ""
    frames = []
    if task.kind == TaskKind.THUMBNAIL:
        candidates = Frame.objects.filter(video=video, is_candidate=True).order_by("index")
        frames = [
            {
                "id": frame.id,
                "number": number,
                "timestamp": frame.timestamp,
                "url": _media_url(user, assignment, frame_id=frame.id),
            }
            for number, frame in enumerate(candidates, start=1)
        ]
    answer = None
    if assignment.state == Assignment.State.ANSWERED:
        answer = Answer.objects.filter(assignment=assignment).values("choice", "frame_id").first()
    return {
        "id": assignment.id,
        "kind": task.kind,
        "dataset": assignment.dataset.slug,
        "question": QUESTIONS[task.kind].format(topic=topic),
        "title": video.title,
        "subtitle": _subtitle(video),
        "topic": topic,
        "macro_topic": task.topic.macro_topic if task.topic else "",
        "video_url": _media_url(user, assignment),
        "has_audio": bool(video.has_audio),
        "frames": frames,
        "lease_expires_at": assignment.lease_expires_at,
        "answer": answer,
    }


def _loaded(obj, *path: str) -> bool:
    """Whether select_related already fetched obj.<path> (so reading it costs no query)."""
    for name in path:
        if not obj._meta.get_field(name).is_cached(obj):
            return False
        obj = getattr(obj, name)
    return True


def _media_url(user, assignment: Assignment, frame_id: int | None = None) -> str:
    from django.urls import reverse

    token = media_token(
        user_id=user.pk, video_id=assignment.task.video_id, assignment_id=assignment.id, frame_id=frame_id
    )
    return reverse("annotator:media", args=[token])


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


def noise_videos(*, dataset: Dataset):
    """Videos whose topic verification says label noise (two No)."""
    return Task.objects.filter(dataset=dataset, kind=TaskKind.TOPIC, verdict="noise").select_related("video")

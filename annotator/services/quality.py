"""Annotator quality: accuracy on gold, agreement with peers, flags; pausing and excluding."""

from collections import defaultdict
from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from annotator.conf import annotation_config
from annotator.models import AnnotatorProfile, Answer, Task
from annotator.services.answers import task_recompute
from annotator.services.assignment import leases_revoke
from curation.models import Dataset


@dataclass
class WorkerQuality:
    worker_id: int
    username: str
    answers: int
    gold_answered: int
    gold_correct: int
    peer_pairs: int
    peer_agreeing: int
    is_paused: bool
    answers_excluded: bool
    flagged: bool = False

    @property
    def gold_accuracy(self) -> float | None:
        return self.gold_correct / self.gold_answered if self.gold_answered else None

    @property
    def peer_agreement(self) -> float | None:
        return self.peer_agreeing / self.peer_pairs if self.peer_pairs else None


def annotator_quality(*, dataset: Dataset) -> list[WorkerQuality]:
    """Per worker, over one dataset. Peer agreement = share of (own answer, other worker's
    answer) pairs on the same non-gold task that are equal. Flagged: gold accuracy under the
    dataset's threshold after at least `min_gold_for_flag` gold answers."""
    config = annotation_config(dataset)
    rows = Answer.objects.filter(task__dataset=dataset).values_list(
        "task_id", "worker_id", "worker__username", "choice", "frame_id", "is_gold", "correct"
    )
    profiles = dict(AnnotatorProfile.objects.values_list("user_id", "is_paused").iterator())
    excluded = set(AnnotatorProfile.objects.filter(answers_excluded=True).values_list("user_id", flat=True))
    by_worker: dict[int, WorkerQuality] = {}
    by_task: dict[int, list[tuple[int, object]]] = defaultdict(list)
    for task_id, worker_id, username, choice, frame_id, is_gold, correct in rows:
        quality = by_worker.setdefault(
            worker_id,
            WorkerQuality(
                worker_id, username, 0, 0, 0, 0, 0, profiles.get(worker_id, False), worker_id in excluded
            ),
        )
        quality.answers += 1
        if is_gold:
            quality.gold_answered += 1
            quality.gold_correct += bool(correct)
        else:
            by_task[task_id].append((worker_id, choice or frame_id))
    for answers in by_task.values():
        for worker_id, value in answers:
            others = [other for other_id, other in answers if other_id != worker_id]
            by_worker[worker_id].peer_pairs += len(others)
            by_worker[worker_id].peer_agreeing += sum(other == value for other in others)
    for quality in by_worker.values():
        quality.flagged = (
            quality.gold_answered >= config.min_gold_for_flag
            and quality.gold_accuracy is not None
            and quality.gold_accuracy < config.accuracy_threshold
        )
    return sorted(by_worker.values(), key=lambda q: q.username)


@transaction.atomic
def annotator_set_paused(*, worker: AbstractBaseUser, paused: bool) -> AnnotatorProfile:
    """Pause (or resume) a worker; pausing also ends every lease they hold (leases_revoke)."""
    AnnotatorProfile.objects.get_or_create(user=worker)
    profile = AnnotatorProfile.objects.select_for_update().get(user=worker)
    profile.is_paused = paused
    profile.save(update_fields=["is_paused", "updated_at"])
    if paused:
        leases_revoke(worker=worker)
    return profile


@transaction.atomic
def annotator_set_excluded(*, worker: AbstractBaseUser, excluded: bool) -> int:
    """Exclude (or include again) a worker's answers from verdicts; every task they answered is
    recomputed, and gets a new slot where it now lacks answers. Returns the tasks recomputed."""
    AnnotatorProfile.objects.get_or_create(user=worker)
    profile = AnnotatorProfile.objects.select_for_update().get(user=worker)
    profile.answers_excluded = excluded
    profile.save(update_fields=["answers_excluded", "updated_at"])
    if excluded:  # what they hold would not count: free it for a worker whose answer does
        leases_revoke(worker=worker)
    task_ids = Answer.objects.filter(worker=worker, is_gold=False).values_list("task_id", flat=True)
    tasks = Task.objects.select_for_update().filter(id__in=list(task_ids)).order_by("id")
    count = 0
    for task in tasks:
        task_recompute(task=task)
        count += 1
    return count

"""Leasing work to crowdworkers.

The next slot for a worker is chosen and locked in one statement, SELECT … FOR UPDATE SKIP
LOCKED, ordered by priority: concurrent workers skip each other's rows instead of waiting, and a
slot row is held by one lease at a time. A lease expires after the dataset's lease time and the
slot returns to the pool (the next worker to lock it overwrites the holder). Every operation of
one worker first locks that worker's profile row, so a worker's own concurrent requests
(the task shown and the one prefetched) are serialised.
"""

import random
from collections.abc import Iterable

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from annotator.conf import annotation_config
from annotator.errors import TooManyLeases, WorkerPaused
from annotator.models import AnnotatorProfile, Assignment, Task
from curation.models import Dataset, StageStatus
from curation.services.pipeline import STAGES

# The task on screen and the one prefetched behind it.
MAX_HELD = 2


def servable_video_q(prefix: str = "video__") -> Q:
    """Videos a worker may be shown: a playable proxy and no failed pipeline stage."""
    condition = Q(**{f"{prefix}proxy_status": StageStatus.DONE})
    for stage in STAGES:
        condition &= ~Q(**{f"{prefix}{stage.status_field}": StageStatus.FAILED})
    return condition


def profile_lock(*, worker: AbstractBaseUser) -> AnnotatorProfile:
    """Lock (creating if needed) the worker's profile row; refuse paused workers."""
    profile = AnnotatorProfile.objects.select_for_update().filter(user=worker).first()
    if profile is None:
        AnnotatorProfile.objects.get_or_create(user=worker)
        profile = AnnotatorProfile.objects.select_for_update().get(user=worker)
    if profile.is_paused:
        raise WorkerPaused("Your account is paused by the project staff; no tasks can be taken or answered.")
    return profile


def _release_expired(expired: list[Assignment]) -> None:
    """Give back the worker's expired, unanswered slots: regular ones return to the pool, gold
    ones (made for this worker only) are dropped, so the task may be served again later."""
    Assignment.objects.filter(id__in=[a.id for a in expired if a.is_gold]).delete()
    Assignment.objects.filter(id__in=[a.id for a in expired if not a.is_gold]).update(
        worker=None, leased_at=None, lease_expires_at=None
    )


def _open_slot(*, worker, dataset: Dataset | None, kind: str | None, now) -> Assignment | None:
    mine = Assignment.objects.filter(task=OuterRef("task"), worker=worker)
    slots = (
        Assignment.objects.filter(state=Assignment.State.OPEN, is_gold=False)
        .filter(Q(worker__isnull=True) | Q(lease_expires_at__lte=now))
        .filter(~Exists(mine))
        .filter(servable_video_q("task__video__"))
    )
    if dataset is not None:
        slots = slots.filter(dataset=dataset)
    if kind is not None:
        slots = slots.filter(kind=kind)
    # of=("self",): lock only the slot row, never the joined task, video or dataset rows.
    return (
        slots.select_related("dataset", "task__video", "task__topic")
        .order_by("-priority", "id")
        .select_for_update(skip_locked=True, of=("self",))
        .first()
    )


def _wants_gold(*, worker, dataset: Dataset, kind: str) -> bool:
    config = annotation_config(dataset)
    if not config.gold_first and not config.gold_rate:
        return False
    seen = Assignment.objects.filter(worker=worker, dataset=dataset, kind=kind).aggregate(
        gold=Count("id", filter=Q(is_gold=True)),
        answered=Count("id", filter=Q(state=Assignment.State.ANSWERED)),
    )
    if seen["gold"] < config.gold_first:
        return True
    answered = seen["answered"]
    # Deterministic per worker and position: reproducible, yet unpredictable to the worker.
    return random.Random(f"{config.seed}:{worker.pk}:{answered}").random() < config.gold_rate


def _gold_task(*, worker, dataset: Dataset, kind: str) -> Task | None:
    mine = Assignment.objects.filter(task=OuterRef("pk"), worker=worker)
    return (
        Task.objects.filter(dataset=dataset, kind=kind, is_gold=True)
        .filter(servable_video_q())
        .filter(~Exists(mine))
        .order_by("-priority", "id")
        .first()
    )


def held_list(*, worker, now=None) -> QuerySet[Assignment]:
    now = now or timezone.now()
    return Assignment.objects.filter(worker=worker, state=Assignment.State.OPEN, lease_expires_at__gt=now)


@transaction.atomic
def assignment_next(
    *,
    worker: AbstractBaseUser,
    dataset: Dataset | None = None,
    kind: str | None = None,
    exclude: Iterable[int] = (),
) -> Assignment | None:
    """The worker's next assignment: one they already hold and the client has not shown yet
    (`exclude` = the ids the client holds), else a newly leased slot. None when no work is left.

    Gold tasks are mixed in (the first `gold_first`, then a `gold_rate` share) and look the same.
    """
    profile_lock(worker=worker)
    now = timezone.now()
    open_mine = list(
        Assignment.objects.filter(worker=worker, state=Assignment.State.OPEN).order_by("leased_at", "id")
    )
    expired = [a for a in open_mine if a.lease_expires_at <= now]
    if expired:
        _release_expired(expired)
    # Leases outside the requested dataset/kind are left to expire (the worker switched pages).
    held = [
        a
        for a in open_mine
        if a.lease_expires_at > now
        and (dataset is None or a.dataset_id == dataset.id)
        and (kind is None or a.kind == kind)
    ]
    excluded = set(exclude)
    for assignment in held:
        if assignment.id not in excluded:
            return assignment
    if len(held) >= MAX_HELD:
        raise TooManyLeases(f"You already hold {len(held)} tasks: answer one before taking another.")

    slot = _open_slot(worker=worker, dataset=dataset, kind=kind, now=now)
    if slot is None:
        return None
    config = annotation_config(slot.dataset)
    if _wants_gold(worker=worker, dataset=slot.dataset, kind=slot.kind):
        gold = _gold_task(worker=worker, dataset=slot.dataset, kind=slot.kind)
        if gold is not None:
            return Assignment.objects.create(
                task=gold,
                dataset_id=gold.dataset_id,
                kind=gold.kind,
                priority=gold.priority,
                is_gold=True,
                worker=worker,
                leased_at=now,
                lease_expires_at=now + config.lease,
            )
    slot.worker = worker
    slot.leased_at = now
    slot.lease_expires_at = now + config.lease
    slot.save(update_fields=["worker", "leased_at", "lease_expires_at"])
    return slot

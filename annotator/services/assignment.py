"""Leasing work to crowdworkers.

The next slot for a worker is chosen and locked in one statement, SELECT … FOR UPDATE SKIP
LOCKED, ordered by priority: concurrent workers skip each other's rows instead of waiting, and a
slot row is held by one lease at a time. A lease expires after the dataset's lease time and the
slot returns to the pool (the next worker to lock it overwrites the holder). Every operation of
one worker first locks that worker's profile row, so a worker's own concurrent requests
(the task shown and the one prefetched) are serialised.

The path every request takes (lock the worker and list their leases; pick a slot; lease it) is
written in SQL, in annotator/queries/ (which says why); rare paths use the ORM.
"""

import random
from collections.abc import Iterable
from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from annotator.conf import annotation_config
from annotator.errors import TooManyLeases, WorkerPaused
from annotator.models import AnnotatorProfile, Assignment, Task
from annotator.queries import servable_video_q
from annotator.queries.leasing import Shown, gold_seen, open_slot_lock, slot_lease, slot_unlease, worker_lock
from curation.models import Dataset

PAUSED = "Your account is paused by the project staff; no tasks can be taken or answered."
# The task on screen and the one prefetched behind it.
MAX_HELD = 2


@dataclass(frozen=True)
class Offer:
    """The assignment a worker gets next, and what they are shown of it when it was just leased
    with it (None: selectors.assignment_payload reads it)."""

    assignment: Assignment
    shown: Shown | None = None


def profile_lock(*, worker: AbstractBaseUser) -> list[Assignment]:
    """Lock (creating if needed) the worker's profile row; refuse paused workers. Returns the
    worker's open slots (expired leases included), oldest lease first."""
    locked = worker_lock(worker=worker)
    if locked is None:
        AnnotatorProfile.objects.get_or_create(user=worker)
        locked = worker_lock(worker=worker)
    if locked.paused:
        raise WorkerPaused(PAUSED)
    return locked.slots


def _release_expired(expired: list[Assignment]) -> None:
    """Give back the worker's expired, unanswered slots: regular ones return to the pool, gold
    ones (made for this worker only) are dropped, so the task may be served again later."""
    Assignment.objects.filter(id__in=[a.id for a in expired if a.is_gold]).delete()
    Assignment.objects.filter(id__in=[a.id for a in expired if not a.is_gold]).update(
        worker=None, leased_at=None, lease_expires_at=None
    )


def leases_revoke(*, worker: AbstractBaseUser) -> int:
    """End every lease the worker holds, at once (staff paused them or excluded their answers): open
    slots go back to the pool as if expired, and answered slots' leases end, which closes their undo
    window. Media links check the lease (services/media.py), so every link made for the worker stops
    working too; otherwise a paused worker kept watching and reading held tasks until the leases
    ran out (issue 13). The caller holds the worker's profile row lock. Returns the slots freed."""
    now = timezone.now()
    held = list(Assignment.objects.filter(worker=worker, state=Assignment.State.OPEN))
    _release_expired(held)
    Assignment.objects.filter(
        worker=worker, state=Assignment.State.ANSWERED, lease_expires_at__gt=now
    ).update(lease_expires_at=now)
    return len(held)


def _wants_gold(*, worker, dataset: Dataset, kind: str) -> bool:
    config = annotation_config(dataset)
    if not config.gold_first and not config.gold_rate:
        return False
    gold, answered = gold_seen(worker_id=worker.pk, dataset_id=dataset.id, kind=kind)
    if gold < config.gold_first:
        return True
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


def assignment_next(
    *,
    worker: AbstractBaseUser,
    dataset: Dataset | None = None,
    kind: str | None = None,
    exclude: Iterable[int] = (),
) -> Assignment | None:
    """assignment_offer's assignment alone."""
    offer = assignment_offer(worker=worker, dataset=dataset, kind=kind, exclude=exclude)
    return None if offer is None else offer.assignment


@transaction.atomic
def assignment_offer(
    *,
    worker: AbstractBaseUser,
    dataset: Dataset | None = None,
    kind: str | None = None,
    exclude: Iterable[int] = (),
) -> Offer | None:
    """The worker's next assignment: one they already hold and the client has not shown yet
    (`exclude` = the ids the client holds), else a newly leased slot. None when no work is left.

    Gold tasks are mixed in (the first `gold_first`, then a `gold_rate` share) and look the same.
    """
    open_mine = profile_lock(worker=worker)
    now = timezone.now()
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
            return Offer(assignment)
    if len(held) >= MAX_HELD:
        raise TooManyLeases(f"You already hold {len(held)} tasks: answer one before taking another.")

    # The lease time is the dataset's: known up front only when the worker asked for a dataset,
    # and then the slot is leased by the statement that picks it.
    expires = None if dataset is None else now + annotation_config(dataset).lease
    found = open_slot_lock(worker=worker, dataset=dataset, kind=kind, now=now, expires=expires)
    if found is None:
        return None
    slot = found.assignment
    dataset = slot.dataset
    config = annotation_config(dataset)
    if _wants_gold(worker=worker, dataset=dataset, kind=slot.kind):
        gold = _gold_task(worker=worker, dataset=dataset, kind=slot.kind)
        if gold is not None:
            if found.leased:  # back to the pool: the worker gets the gold task instead
                slot_unlease(slot_id=slot.id)
            return Offer(
                Assignment.objects.create(
                    task=gold,
                    dataset_id=gold.dataset_id,
                    kind=gold.kind,
                    priority=gold.priority,
                    is_gold=True,
                    worker=worker,
                    leased_at=now,
                    lease_expires_at=now + config.lease,
                )
            )
    slot.worker, slot.leased_at, slot.lease_expires_at = worker, now, now + config.lease
    if not found.leased:
        slot_lease(slot_id=slot.id, worker_id=worker.pk, leased_at=now, expires=slot.lease_expires_at)
    slot.state = Assignment.State.OPEN
    return Offer(slot, found.shown)

"""Leasing work to crowdworkers.

The next slot for a worker is chosen and locked in one statement, SELECT … FOR UPDATE SKIP
LOCKED, ordered by priority: concurrent workers skip each other's rows instead of waiting, and a
slot row is held by one lease at a time. A lease expires after the dataset's lease time and the
slot returns to the pool (the next worker to lock it overwrites the holder). Every operation of
one worker first locks that worker's profile row, so a worker's own concurrent requests
(the task shown and the one prefetched) are serialised.

The path every request takes (lock the worker and list their leases; pick a slot; lease it) is
written in SQL: through the ORM each of those statements cost ~1 ms of server CPU to build, more
than PostgreSQL spends running it, and the API cycle's throughput is bound by that CPU (issue 5's
benchmark, bench/README.md). Rare paths (gold tasks, expired leases, a first profile) use the ORM.
"""

import json
import random
from collections.abc import Iterable
from datetime import UTC, datetime

import psycopg
from django.contrib.auth.models import AbstractBaseUser
from django.db import InterfaceError, OperationalError, connection, transaction
from django.db.models import Exists, Model, OuterRef, Q, QuerySet
from django.utils import timezone

from annotator.conf import annotation_config
from annotator.errors import TooManyLeases, WorkerPaused
from annotator.models import AnnotatorProfile, Assignment, Task
from curation.models import Dataset, StageStatus
from curation.services.pipeline import STAGES

PAUSED = "Your account is paused by the project staff; no tasks can be taken or answered."
# The task on screen and the one prefetched behind it.
MAX_HELD = 2
_ASSIGNMENT_FIELDS = [
    "id",
    "task_id",
    "dataset_id",
    "kind",
    "priority",
    "is_gold",
    "leased_at",
    "lease_expires_at",
]


def servable_video_q(prefix: str = "video__") -> Q:
    """Videos a worker may be shown: a playable proxy and no failed pipeline stage."""
    condition = Q(**{f"{prefix}proxy_status": StageStatus.DONE})
    for stage in STAGES:
        condition &= ~Q(**{f"{prefix}{stage.status_field}": StageStatus.FAILED})
    return condition


def _servable_sql(video: str) -> str:
    """servable_video_q over the video table aliased `video` (the values are code constants)."""
    failed = [f"{video}.{stage.status_field} <> '{StageStatus.FAILED}'" for stage in STAGES]
    return " AND ".join([f"{video}.proxy_status = '{StageStatus.DONE}'", *failed])


# The profile row is locked; the worker's open slots come with it (a LEFT JOIN: none is fine).
_LOCK_WORKER = f"""
    SELECT p.is_paused, {", ".join(f"a.{name}" for name in _ASSIGNMENT_FIELDS)}
    FROM annotator_annotatorprofile p
    LEFT JOIN annotator_assignment a ON a.worker_id = p.user_id AND a.state = 'open'
    WHERE p.user_id = %s
    ORDER BY a.leased_at, a.id
    {{lock}}
"""

# What a worker is shown of a task comes with the slot (selectors.assignment_payload): the task's
# kind, its video and topic, the first subtitle text.
SHOWN_COLUMNS = """
    t.kind, t.video_id, v.title, v.has_audio, topic.name, topic.macro_topic,
    (SELECT s.text FROM curation_videosubtitle s WHERE s.video_id = t.video_id ORDER BY s.id LIMIT 1)
"""

# of a: lock only the slot row, never the joined task, video or dataset rows. LIMIT 1 OFFSET 0 keeps the
# NOT EXISTS a probe of the (task, worker) index per candidate slot: as an anti-join PostgreSQL
# read all of the worker's past slots for every query (21 ms instead of 2 with 350 of them).
_OPEN_SLOT = f"""
    SELECT {", ".join(f"a.{name}" for name in _ASSIGNMENT_FIELDS)},
           d.slug, d.annotation_overlap, d.settings, {SHOWN_COLUMNS}
    FROM annotator_assignment a
    JOIN annotator_task t ON t.id = a.task_id
    JOIN curation_video v ON v.id = t.video_id
    JOIN curation_dataset d ON d.id = a.dataset_id
    LEFT JOIN curation_topic topic ON topic.id = t.topic_id
    WHERE a.state = 'open' AND a.is_gold = false
      AND (a.worker_id IS NULL OR a.lease_expires_at <= %(now)s)
      AND NOT EXISTS (
          SELECT 1 FROM annotator_assignment mine
          WHERE mine.task_id = a.task_id AND mine.worker_id = %(worker)s LIMIT 1 OFFSET 0
      )
      AND {_servable_sql("v")} {{filters}}
    ORDER BY a.priority DESC, a.id
    LIMIT 1
    {{lock}}
"""
# The slot chosen and leased in one statement (PostgreSQL, when the lease time is known up front).
_LEASE_OPEN_SLOT = """
    WITH slot AS ({slot})
    UPDATE annotator_assignment a
    SET worker_id = %(worker)s, leased_at = %(now)s, lease_expires_at = %(expires)s
    FROM slot WHERE a.id = slot.id
    RETURNING slot.*
"""

_LEASE = "UPDATE annotator_assignment SET worker_id = %s, leased_at = %s, lease_expires_at = %s WHERE id = %s"
_UNLEASE = """
    UPDATE annotator_assignment SET worker_id = NULL, leased_at = NULL, lease_expires_at = NULL WHERE id = %s
"""

_GOLD_SEEN = """
    SELECT count(*) FILTER (WHERE is_gold), count(*) FILTER (WHERE state = %s)
    FROM annotator_assignment WHERE worker_id = %s AND dataset_id = %s AND kind = %s
"""


def sql(statement: str, params=(), *, fetch: str = "all"):
    """Run one statement of the hot path; `fetch`: "all" rows, "one" row or None.

    On PostgreSQL as a prepared statement of the connection (a server-side-binding psycopg cursor):
    planning these statements anew cost PostgreSQL more CPU than running them (issue 5's benchmark:
    9 → 5 ms of backend CPU per cycle), and persistent connections (DATABASE_CONN_MAX_AGE) keep the
    plans. Django leaves psycopg's automatic preparing off (prepare_threshold None, for poolers in
    transaction mode); the threshold set here stays out of reach, so only these statements, which
    ask for it, are ever prepared. Behind such a pooler, it must allow prepared statements
    (PgBouncer >= 1.21: max_prepared_statements)."""
    if connection.vendor != "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(statement, params)
            return cursor.fetchall() if fetch == "all" else cursor.fetchone() if fetch == "one" else None
    # Django checks a persistent connection before the first query of each request
    # (CONN_HEALTH_CHECKS), but only in its own cursors: on this path every server thread failed
    # one request on the connection a PostgreSQL restart had closed (issue 13). Instead of a
    # SELECT 1 per request, the request's first statement runs at once and, when it finds the
    # connection broken, runs again on a new one. Only outside a transaction: nothing else of the
    # request was on the old connection (a server that ended the session ran nothing of it), and
    # the statements that write run in transactions. A transaction cannot be replayed, so
    # inside one Django's own check runs first.
    first = connection.health_check_enabled and not connection.health_check_done
    if first and connection.in_atomic_block:
        connection.close_if_health_check_failed()
    try:
        rows = _prepared(statement, params, fetch)
    except (OperationalError, InterfaceError):
        if not first or connection.in_atomic_block or not _connection_lost():
            raise
        connection.close()
        rows = _prepared(statement, params, fetch)
    connection.health_check_done = True
    return rows


def _prepared(statement: str, params, fetch: str):
    connection.ensure_connection()
    raw = connection.connection
    if raw.prepare_threshold is None:
        raw.prepare_threshold = 2**31
    with connection.wrap_database_errors, psycopg.Cursor(raw) as cursor:
        cursor.execute(statement, params, prepare=True)
        return cursor.fetchall() if fetch == "all" else cursor.fetchone() if fetch == "one" else None


def _connection_lost() -> bool:
    raw = connection.connection
    return raw is None or raw.closed or raw.broken


def for_update(clause: str) -> str:
    """A locking clause where the database has row locks; SQLite (the zero-setup demo) locks the
    whole file on write and has none."""
    return clause if connection.features.has_select_for_update else ""


def db_time(value: datetime) -> datetime | str:
    """A datetime as a statement parameter (SQLite stores naive UTC text)."""
    return connection.ops.adapt_datetimefield_value(value)


def aware(value: datetime | None) -> datetime | None:
    """A datetime read back by a statement (SQLite gives it naive, in UTC)."""
    return value if value is None or timezone.is_aware(value) else timezone.make_aware(value, UTC)


def from_row(model, names: list[str], values) -> Model:
    """A model instance from a row of raw SQL (named columns; fields not given load lazily).
    Model.from_db wants the values in the model's field order, whatever order `names` has."""
    given = dict(zip(names, values, strict=True))
    ordered = [field.attname for field in model._meta.concrete_fields if field.attname in given]
    return model.from_db(connection.alias, ordered, [given[name] for name in ordered])


def _assignment(row, *, worker) -> Assignment:
    """An open Assignment from a row of _ASSIGNMENT_FIELDS, leased to `worker`."""
    *row, leased_at, expires = row
    assignment = from_row(
        Assignment,
        [*_ASSIGNMENT_FIELDS, "state", "worker_id"],
        [*row, aware(leased_at), aware(expires), Assignment.State.OPEN, worker.pk],
    )
    assignment.worker = worker
    return assignment


def profile_lock(*, worker: AbstractBaseUser) -> list[Assignment]:
    """Lock (creating if needed) the worker's profile row; refuse paused workers. Returns the
    worker's open slots (expired leases included), oldest lease first."""
    for _ in range(2):
        rows = sql(_LOCK_WORKER.format(lock=for_update("FOR UPDATE OF p")), [worker.pk])
        if rows:
            break
        AnnotatorProfile.objects.get_or_create(user=worker)
    if rows[0][0]:
        raise WorkerPaused(PAUSED)
    return [_assignment(row[1:], worker=worker) for row in rows if row[1] is not None]


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


def _open_slot(
    *, worker, dataset: Dataset | None, kind: str | None, now: datetime
) -> tuple[Assignment | None, bool]:
    """Lock the best open slot for the worker (skipping slots others hold locked), its dataset
    loaded with it and what the worker is shown of it kept on `slot.shown`. Where it can, the same
    statement leases the slot to the worker; the flag says whether it did."""
    filters, params = [], {"now": db_time(now), "worker": worker.pk}
    if dataset is not None:
        filters.append("AND a.dataset_id = %(dataset)s")
        params["dataset"] = dataset.id
    if kind is not None:
        filters.append("AND a.kind = %(kind)s")
        params["kind"] = kind
    statement = _OPEN_SLOT.format(filters=" ".join(filters), lock=for_update("FOR UPDATE OF a SKIP LOCKED"))
    # The lease time is the dataset's: known up front only when the worker asked for a dataset.
    # SQLite's RETURNING cannot name another table's columns.
    leased = dataset is not None and connection.vendor == "postgresql"
    if leased:
        params["expires"] = db_time(now + annotation_config(dataset).lease)
        statement = _LEASE_OPEN_SLOT.format(slot=statement)
    row = sql(statement, params, fetch="one")
    if row is None:
        return None, False
    fields = len(_ASSIGNMENT_FIELDS)
    slot = from_row(Assignment, _ASSIGNMENT_FIELDS, row[:fields])
    slug, overlap, settings, *shown = row[fields:]
    settings = json.loads(settings) if isinstance(settings, str) else settings
    if dataset is None:
        dataset = from_row(
            Dataset,
            ["id", "slug", "annotation_overlap", "settings"],
            [slot.dataset_id, slug, overlap, settings],
        )
    slot.dataset = dataset
    slot.shown = (slug, *shown)
    return slot, leased


def _wants_gold(*, worker, dataset: Dataset, kind: str) -> bool:
    config = annotation_config(dataset)
    if not config.gold_first and not config.gold_rate:
        return False
    gold, answered = sql(_GOLD_SEEN, [Assignment.State.ANSWERED, worker.pk, dataset.id, kind], fetch="one")
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
            return assignment
    if len(held) >= MAX_HELD:
        raise TooManyLeases(f"You already hold {len(held)} tasks: answer one before taking another.")

    slot, leased = _open_slot(worker=worker, dataset=dataset, kind=kind, now=now)
    if slot is None:
        return None
    dataset = slot.dataset
    config = annotation_config(dataset)
    if _wants_gold(worker=worker, dataset=dataset, kind=slot.kind):
        gold = _gold_task(worker=worker, dataset=dataset, kind=slot.kind)
        if gold is not None:
            if leased:  # back to the pool: the worker gets the gold task instead
                sql(_UNLEASE, [slot.id], fetch=None)
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
    slot.worker, slot.leased_at, slot.lease_expires_at = worker, now, now + config.lease
    if not leased:
        sql(_LEASE, [worker.pk, db_time(now), db_time(slot.lease_expires_at), slot.id], fetch=None)
    slot.state = Assignment.State.OPEN
    return slot

"""Leasing: the worker's profile locked with their open slots, the best open slot locked (and
leased) in one statement, and what a worker is shown of a task."""

import json
from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser

from annotator.models import AnnotatorProfile, Assignment, Task
from annotator.queries import from_row, servable_sql, sql
from curation.models import Dataset, Topic, Video, VideoSubtitle

ASSIGNMENT, TASK, PROFILE = Assignment._meta.db_table, Task._meta.db_table, AnnotatorProfile._meta.db_table
DATASET, VIDEO, TOPIC = Dataset._meta.db_table, Video._meta.db_table, Topic._meta.db_table
SUBTITLE = VideoSubtitle._meta.db_table
OPEN, ANSWERED = Assignment.State.OPEN.value, Assignment.State.ANSWERED.value

_ASSIGNMENT_FIELDS = [
    "id", "task_id", "dataset_id", "kind", "priority", "is_gold", "leased_at", "lease_expires_at",
]  # fmt: skip

# The profile row is locked; the worker's open slots come with it (a LEFT JOIN: none is fine).
_LOCK_WORKER = f"""
    SELECT p.is_paused, {", ".join(f"a.{name}" for name in _ASSIGNMENT_FIELDS)}
    FROM {PROFILE} p
    LEFT JOIN {ASSIGNMENT} a ON a.worker_id = p.user_id AND a.state = '{OPEN}'
    WHERE p.user_id = %s
    ORDER BY a.leased_at, a.id
    FOR UPDATE OF p
"""

# What a worker is shown of a task (Shown): its dataset, the task's kind, its video and topic, the
# first subtitle text, and whether the dataset shows model guesses (only a JSON `true` does: a
# crowdworker sees none by default, and annotation_config refuses any other value by name).
_SHOWN_COLUMNS = f"""
    d.slug, t.kind, t.video_id, v.title, v.has_audio, topic.name, topic.macro_topic,
    (SELECT s.text FROM {SUBTITLE} s WHERE s.video_id = t.video_id ORDER BY s.id LIMIT 1),
    coalesce(d.settings -> 'annotation' -> 'show_model_guesses' = 'true'::jsonb, false)
"""
_SHOWN_FROM = f"""
    FROM {ASSIGNMENT} a
    JOIN {TASK} t ON t.id = a.task_id
    JOIN {VIDEO} v ON v.id = t.video_id
    JOIN {DATASET} d ON d.id = a.dataset_id
    LEFT JOIN {TOPIC} topic ON topic.id = t.topic_id
"""

# FOR UPDATE OF a: lock only the slot row, never the joined task, video or dataset rows. LIMIT 1
# OFFSET 0 keeps the NOT EXISTS a probe of the (task, worker) index per candidate slot: as an
# anti-join PostgreSQL read all of the worker's past slots for every query (21 ms instead of 2
# with 350 of them).
_OPEN_SLOT = f"""
    SELECT {", ".join(f"a.{name}" for name in _ASSIGNMENT_FIELDS)},
           d.annotation_overlap, d.settings, {_SHOWN_COLUMNS}
    {_SHOWN_FROM}
    WHERE a.state = '{OPEN}' AND a.is_gold = false
      AND (a.worker_id IS NULL OR a.lease_expires_at <= %(now)s)
      AND NOT EXISTS (
          SELECT 1 FROM {ASSIGNMENT} mine
          WHERE mine.task_id = a.task_id AND mine.worker_id = %(worker)s LIMIT 1 OFFSET 0
      )
      AND {servable_sql("v")} {{filters}}
    ORDER BY a.priority DESC, a.id
    LIMIT 1
    FOR UPDATE OF a SKIP LOCKED
"""
# The slot chosen and leased in one statement, when the lease time is known up front.
_LEASE_OPEN_SLOT = f"""
    WITH slot AS ({{slot}})
    UPDATE {ASSIGNMENT} a
    SET worker_id = %(worker)s, leased_at = %(now)s, lease_expires_at = %(expires)s
    FROM slot WHERE a.id = slot.id
    RETURNING slot.*
"""
_LEASE = f"UPDATE {ASSIGNMENT} SET worker_id = %s, leased_at = %s, lease_expires_at = %s WHERE id = %s"
_UNLEASE = (
    f"UPDATE {ASSIGNMENT} SET worker_id = NULL, leased_at = NULL, lease_expires_at = NULL WHERE id = %s"
)
_GOLD_SEEN = f"""
    SELECT count(*) FILTER (WHERE is_gold), count(*) FILTER (WHERE state = '{ANSWERED}')
    FROM {ASSIGNMENT} WHERE worker_id = %s AND dataset_id = %s AND kind = %s
"""
_SHOWN = f"SELECT {_SHOWN_COLUMNS} {_SHOWN_FROM} WHERE a.id = %s"
_DATASET_FIELDS = ["id", "slug", "annotation_overlap", "settings"]
_DATASET = f"SELECT {', '.join(_DATASET_FIELDS)} FROM {DATASET} WHERE slug = %s"


@dataclass(frozen=True)
class Shown:
    """What a worker is shown of a task: read with the slot it is leased, or on its own."""

    dataset: str  # the slug
    kind: str
    video_id: int
    title: str
    has_audio: bool
    topic: str | None
    macro_topic: str | None
    subtitle: str | None
    model_guesses: bool  # the dataset's `show_model_guesses`


@dataclass(frozen=True)
class WorkerLock:
    """A worker's profile, locked: paused or not, and their open slots (expired leases included),
    oldest lease first."""

    paused: bool
    slots: list[Assignment]


@dataclass(frozen=True)
class OpenSlot:
    """The best open slot for a worker, locked (its dataset loaded with it); `leased`: the same
    statement leased it to the worker."""

    assignment: Assignment
    shown: Shown
    leased: bool


def worker_lock(*, worker: AbstractBaseUser) -> WorkerLock | None:
    """Lock the worker's profile row (None: they have none yet)."""
    rows = sql(_LOCK_WORKER, [worker.pk])
    if not rows:
        return None
    return WorkerLock(rows[0][0], [_open_assignment(row[1:], worker) for row in rows if row[1] is not None])


def _open_assignment(row, worker: AbstractBaseUser) -> Assignment:
    assignment = from_row(
        Assignment, [*_ASSIGNMENT_FIELDS, "state", "worker_id"], [*row, Assignment.State.OPEN, worker.pk]
    )
    assignment.worker = worker
    return assignment


def open_slot_lock(
    *,
    worker: AbstractBaseUser,
    dataset: Dataset | None,
    kind: str | None,
    now: datetime,
    expires: datetime | None,
) -> OpenSlot | None:
    """Lock the best open slot for the worker (skipping slots others hold locked), in `dataset`
    and of `kind` where given; with `expires`, lease it to the worker in the same statement."""
    filters, params = [], {"now": now, "worker": worker.pk}
    if dataset is not None:
        filters.append("AND a.dataset_id = %(dataset)s")
        params["dataset"] = dataset.id
    if kind is not None:
        filters.append("AND a.kind = %(kind)s")
        params["kind"] = kind
    statement = _OPEN_SLOT.format(filters=" ".join(filters))
    if expires is not None:
        params["expires"] = expires
        statement = _LEASE_OPEN_SLOT.format(slot=statement)
    row = sql(statement, params, fetch="one")
    if row is None:
        return None
    fields = len(_ASSIGNMENT_FIELDS)
    slot = from_row(Assignment, _ASSIGNMENT_FIELDS, row[:fields])
    overlap, settings, *shown = row[fields:]
    shown = Shown(*shown)
    if dataset is None:
        dataset = from_row(
            Dataset, _DATASET_FIELDS, [slot.dataset_id, shown.dataset, overlap, json.loads(settings)]
        )
    slot.dataset = dataset
    return OpenSlot(slot, shown, expires is not None)


def slot_lease(*, slot_id: int, worker_id: int, leased_at: datetime, expires: datetime) -> None:
    sql(_LEASE, [worker_id, leased_at, expires, slot_id], fetch=None)


def slot_unlease(*, slot_id: int) -> None:
    sql(_UNLEASE, [slot_id], fetch=None)


def gold_seen(*, worker_id: int, dataset_id: int, kind: str) -> tuple[int, int]:
    """(gold slots the worker was given, slots they answered) in the dataset, of `kind`."""
    return sql(_GOLD_SEEN, [worker_id, dataset_id, kind], fetch="one")


def assignment_shown(*, assignment_id: int) -> Shown:
    return Shown(*sql(_SHOWN, [assignment_id], fetch="one"))


def dataset_by_slug(*, slug: str) -> Dataset | None:
    """The dataset with the fields leasing reads (the rest load lazily)."""
    row = sql(_DATASET, [slug], fetch="one")
    if row is None:
        return None
    *row, settings = row
    # Django loads jsonb as text (JSONField decodes it); a raw row is decoded here.
    return from_row(Dataset, _DATASET_FIELDS, [*row, json.loads(settings)])

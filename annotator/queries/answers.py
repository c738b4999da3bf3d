"""Answers: the worker's slot locked with its task, an answer stored with the task's earlier
answers read back in one statement, a task's answers and its verdict written."""

from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser

from annotator.models import AnnotatorProfile, Answer, Assignment, Task
from annotator.queries import from_row, sql

ASSIGNMENT, TASK, PROFILE = Assignment._meta.db_table, Task._meta.db_table, AnnotatorProfile._meta.db_table
ANSWER = Answer._meta.db_table
ANSWERED = Assignment.State.ANSWERED.value

_TASK_FIELDS = [
    "id", "dataset_id", "video_id", "kind", "topic_id", "needed", "answered", "priority", "is_gold",
    "gold_answer", "escalated", "verdict", "truth_frame_id", "verdict_frame_id", "agreement",
]  # fmt: skip
# The worker's profile, the slot and its task are locked together, in that order (as everywhere
# else: profile first, then slot, then task); the profile says whether the worker is paused and
# whether their answers count.
_OWN_SLOT = f"""
    SELECT p.is_paused, p.answers_excluded, a.state, a.lease_expires_at,
           {", ".join(f"t.{name}" for name in _TASK_FIELDS)}
    FROM {PROFILE} p
    JOIN {ASSIGNMENT} a ON a.worker_id = p.user_id
    JOIN {TASK} t ON t.id = a.task_id
    WHERE p.user_id = %s AND a.id = %s
    FOR UPDATE OF p, a, t
"""
_ANSWER_FIELDS = [
    "task_id", "assignment_id", "worker_id", "choice", "frame_id", "is_gold", "correct", "seconds",
    "created_at",
]  # fmt: skip
# A task's answers as (choice, frame, excluded): workers whose answers are excluded do not count.
_VOTES = f"""
    x.choice, x.frame_id, p.answers_excluded IS TRUE
    FROM {ANSWER} x LEFT JOIN {PROFILE} p ON p.user_id = x.worker_id
    WHERE x.task_id = %s
"""
# The answer is stored, its slot marked answered, and the task's earlier answers read back, in
# one statement: first (new answer's id, None, None, None), then (None, choice, frame, excluded)
# for each earlier answer, oldest first. The new answer is not among them (a sibling
# sub-statement cannot see it); the caller adds it last.
_STORE_ANSWER = f"""
    WITH answered AS (UPDATE {ASSIGNMENT} SET state = '{ANSWERED}' WHERE id = %s),
    new AS (
        INSERT INTO {ANSWER} ({", ".join(_ANSWER_FIELDS)})
        VALUES ({", ".join(["%s"] * len(_ANSWER_FIELDS))})
        RETURNING id
    )
    SELECT new_id, choice, frame_id, excluded FROM (
        SELECT new.id AS new_id, NULL::bigint AS answer_id, NULL::text AS choice, NULL::bigint AS frame_id,
               NULL::boolean AS excluded
        FROM new
        UNION ALL
        SELECT NULL, x.id, {_VOTES}
    ) AS rows
    ORDER BY answer_id NULLS FIRST
"""
_TASK_VOTES = f"SELECT {_VOTES} ORDER BY x.id"
_STORE_TASK = f"""
    UPDATE {TASK} SET answered = %s, verdict = %s, verdict_frame_id = %s, agreement = %s,
        needed = %s, escalated = %s, updated_at = %s
    WHERE id = %s
"""
_STORE_GOLD_TASK = f"UPDATE {TASK} SET answered = %s, verdict = %s, updated_at = %s WHERE id = %s"


@dataclass(frozen=True)
class OwnSlot:
    """A worker's slot with its task, locked with their profile: whether they are paused and
    whether their answers are excluded."""

    assignment: Assignment
    paused: bool
    excluded: bool


@dataclass(frozen=True)
class StoredAnswer:
    """A new answer, and the task's earlier answers as (choice, frame id, excluded), oldest first."""

    answer: Answer
    earlier: list[tuple[str, int | None, bool]]


def own_slot_lock(*, worker: AbstractBaseUser, assignment_id: int) -> OwnSlot | None:
    """The worker's slot, its task loaded with it, all three rows locked (None: not theirs)."""
    row = sql(_OWN_SLOT, [worker.pk, assignment_id], fetch="one")
    if row is None:
        return None
    paused, excluded, state, expires, *task_row = row
    task = from_row(Task, _TASK_FIELDS, task_row)
    fields = {"id": assignment_id, "state": state, "worker_id": worker.pk, "lease_expires_at": expires}
    fields |= {name: getattr(task, name) for name in ("dataset_id", "kind", "priority", "is_gold")}
    assignment = from_row(Assignment, list(fields), list(fields.values()))
    assignment.task, assignment.worker = task, worker
    return OwnSlot(assignment, paused, bool(excluded))


def answer_store(
    *,
    assignment: Assignment,
    choice: str,
    frame_id: int | None,
    correct: bool | None,
    seconds: float | None,
    now: datetime,
) -> StoredAnswer:
    """Store the worker's answer to their slot (its task and worker loaded) and mark the slot
    answered, in one statement that reads the task's earlier answers back."""
    task = assignment.task
    values = [task.id, assignment.id, assignment.worker_id, choice, frame_id, task.is_gold, correct]
    values += [seconds, now]  # in _ANSWER_FIELDS' order
    (answer_id, *_), *earlier = sql(_STORE_ANSWER, [assignment.id, *values, task.id])
    answer = from_row(Answer, ["id", *_ANSWER_FIELDS], [answer_id, *values])
    answer.task, answer.worker = task, assignment.worker
    return StoredAnswer(answer, [tuple(row[1:]) for row in earlier])


def task_votes(*, task_id: int) -> list[tuple[str, int | None, bool]]:
    """Every answer of a task as (choice, frame id, excluded), oldest first."""
    return sql(_TASK_VOTES, [task_id])


def task_store(*, task: Task) -> None:
    """Write a task's count, verdict and overlap (a gold task: its count and verdict)."""
    if task.is_gold:
        sql(_STORE_GOLD_TASK, [task.answered, task.verdict, task.updated_at, task.id], fetch=None)
        return
    values = [task.answered, task.verdict, task.verdict_frame_id, task.agreement, task.needed, task.escalated]
    sql(_STORE_TASK, [*values, task.updated_at, task.id], fetch=None)

"""Priorities written set-based (task_reprioritise): one UPDATE for the open slots, one for the
tasks, from arrays of task ids and their new values. Through the ORM the same change is one
statement per task (or CASE lists of 250,000 branches); here it is two."""

from datetime import datetime

from annotator.models import Assignment, Task
from annotator.queries import sql

ASSIGNMENT, TASK = Assignment._meta.db_table, Task._meta.db_table
OPEN = Assignment.State.OPEN.value

# Slots first: every path locks a slot before its task (annotator/queries/answers.py).
_SLOTS = f"""
    WITH changed AS (
        UPDATE {ASSIGNMENT} a SET priority = v.priority
        FROM unnest(%(tasks)s::bigint[], %(priorities)s::float8[]) AS v(task_id, priority)
        WHERE a.task_id = v.task_id AND a.state = '{OPEN}' AND NOT a.is_gold
        RETURNING 1
    )
    SELECT count(*) FROM changed
"""
_TASKS = f"""
    UPDATE {TASK} t SET priority = v.priority, selected_by = v.selected_by, updated_at = %(now)s
    FROM unnest(%(tasks)s::bigint[], %(priorities)s::float8[], %(selected)s::text[])
        AS v(id, priority, selected_by)
    WHERE t.id = v.id
"""


def priorities_store(
    *, task_ids: list[int], priorities: list[float], selected_by: list[str], now: datetime
) -> int:
    """Set each task's priority and `selected_by`, and its open slots' priority; returns the slots."""
    params = {"tasks": task_ids, "priorities": priorities, "selected": selected_by, "now": now}
    (slots,) = sql(_SLOTS, params, fetch="one")
    sql(_TASKS, params, fetch=None)
    return slots

"""The annotator app's hand-written SQL, one module per family: `tokens` (the API token look-up
with the crowdworker check), `leasing` (locking the worker, leasing a slot, what the worker is
shown), `answers` (storing an answer, a task's answers and verdict); here, the helper that runs
them and the rule of which videos may be shown.

Why SQL: through the ORM each statement of the annotation API cycle cost ~1 ms of server CPU to
build, more than PostgreSQL spends running it, and the cycle's throughput is bound by that CPU
(issue 5's benchmark, bench/README.md). Rare paths (gold tasks, expired leases, a first profile)
use the ORM. Tables are named through the models; rows come back as model instances (from_row)
or dataclasses. Services, selectors and the token authentication import from here; nothing here
imports them.
"""

import psycopg
from django.db import InterfaceError, OperationalError, connection
from django.db.models import Model, Q

from curation.models import StageStatus
from curation.services.pipeline import STAGES


def sql(statement: str, params=(), *, fetch: str | None = "all"):
    """Run one statement of the hot path; `fetch`: "all" rows, "one" row or None.

    As a prepared statement of the connection (a server-side-binding psycopg cursor): planning
    these statements anew cost PostgreSQL more CPU than running them (issue 5's benchmark: 9 → 5 ms
    of backend CPU per cycle), and persistent connections (DATABASE_CONN_MAX_AGE) keep the plans.
    Django leaves psycopg's automatic preparing off (prepare_threshold None, for poolers in
    transaction mode); the threshold set here stays out of reach, so only these statements, which
    ask for it, are ever prepared. Behind such a pooler, it must allow prepared statements
    (PgBouncer >= 1.21: max_prepared_statements)."""
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


def _prepared(statement: str, params, fetch: str | None):
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


def from_row(model: type[Model], names: list[str], values) -> Model:
    """A model instance from a row of raw SQL (named columns; fields not given load lazily).
    Model.from_db wants the values in the model's field order, whatever order `names` has."""
    given = dict(zip(names, values, strict=True))
    ordered = [field.attname for field in model._meta.concrete_fields if field.attname in given]
    return model.from_db(connection.alias, ordered, [given[name] for name in ordered])


def servable_video_q(prefix: str = "video__") -> Q:
    """Videos a worker may be shown: a playable proxy and no failed pipeline stage."""
    condition = Q(**{f"{prefix}proxy_status": StageStatus.DONE})
    for stage in STAGES:
        condition &= ~Q(**{f"{prefix}{stage.status_field}": StageStatus.FAILED})
    return condition


def servable_sql(video: str) -> str:
    """servable_video_q over the video table aliased `video` (the values are code constants)."""
    failed = [f"{video}.{stage.status_field} <> '{StageStatus.FAILED}'" for stage in STAGES]
    return " AND ".join([f"{video}.proxy_status = '{StageStatus.DONE}'", *failed])

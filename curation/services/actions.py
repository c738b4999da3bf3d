"""What the dataset page's buttons start, recorded as DatasetAction rows: start one (refused while
one of the same kind runs for the dataset), finish or fail it, and settle actions whose holder
died.

Who holds a running action, and how a dead holder is told from a live one:
- A sync kind (ingest, create_tasks, aggregate, make_split, freeze_split, retry) runs inside its
  request. The request takes a PostgreSQL session advisory lock on (kind, dataset) *before* it
  inserts the running row and releases it only after the row is finished, so a running row whose
  lock is free has no live holder: its process died (the server closes a dead client's session,
  which frees the lock). The next start, or a read of the actions, marks it failed "interrupted".
- score runs in a Celery worker that takes the same lock while it scores and sets `progress`
  when it starts: a running score action with a progress and a free lock lost its worker; one
  without a progress is still queued.
- train and export follow their job (ModelRun, ExportJob), which has its own recovery (a training
  past its hard time limit fails, an export without a heartbeat is taken over): the job's end is
  the action's end. A job's Celery task settles its action when it ends; reads settle the rest.
"""

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from django.db import DatabaseError, IntegrityError, connection, transaction
from django.utils import timezone

from curation.errors import CurationError, DomainError
from curation.models import ActionKind, Dataset, DatasetAction, ExportJob, ModelRun

logger = logging.getLogger("microcurate.actions")

RUNNING, DONE, FAILED = DatasetAction.State.RUNNING, DatasetAction.State.DONE, DatasetAction.State.FAILED
JOB_KINDS = (ActionKind.TRAIN, ActionKind.EXPORT)
SYNC_KINDS = tuple(k for k in ActionKind.values if k not in (*JOB_KINDS, ActionKind.SCORE))
# Advisory lock keys (classid, objid): "MC" in the high bytes keeps them apart from other users'.
LOCK_BASE = 0x4D430000
INTERRUPTED = "interrupted: {} stopped before it finished (its process ended); start it again"


class ActionRunning(CurationError):
    """A second start of a kind that is running on the dataset (409, with the running action)."""

    def __init__(self, action: DatasetAction | None, *, kind: str, dataset: Dataset):
        self.action = action
        if action is None:  # its request holds the lock but has not stored its row yet
            super().__init__(f"{kind} is already starting on {dataset.slug}")
            return
        by = action.started_by.username if action.started_by else "someone"
        super().__init__(
            f"{kind} is already running on {dataset.slug}: started by {by} at "
            f"{timezone.localtime(action.started_at):%Y-%m-%d %H:%M:%S %Z}"
        )

    def response_extra(self) -> dict:
        """What config/exception_handlers.py adds to the 409's body beside `detail`."""
        from curation.selectors_actions import action_json

        return {"action": action_json(self.action) if self.action else None}


# Locks ----------------------------------------------------------------------------------------


def action_lock_key(*, dataset_id: int, kind: str) -> tuple[int, int]:
    return LOCK_BASE + ActionKind.values.index(kind), dataset_id % 2**31


def _lock(dataset_id: int, kind: str, *, wait: bool = False) -> bool:
    function = "pg_advisory_lock" if wait else "pg_try_advisory_lock"
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {function}(%s, %s)", action_lock_key(dataset_id=dataset_id, kind=kind))
        return wait or bool(cursor.fetchone()[0])


def _unlock(dataset_id: int, kind: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_unlock(%s, %s)", action_lock_key(dataset_id=dataset_id, kind=kind))


# Finishing ------------------------------------------------------------------------------------


def _end(action: DatasetAction, *, state: str, message: str, result: dict | None = None) -> bool:
    """Finish a running action (a conditional UPDATE: a job's end and a read settling it at the
    same time finish it once); the instance follows. False if it was no longer running."""
    fields = {"state": state, "message": message, "finished_at": timezone.now()}
    if result is not None:
        fields["result"] = result
    ended = DatasetAction.objects.filter(id=action.id, state=RUNNING).update(**fields)
    if ended:
        for name, value in fields.items():
            setattr(action, name, value)
    else:
        action.refresh_from_db()
    return bool(ended)


def action_finish(*, action: DatasetAction, message: str = "", result: dict | None = None) -> bool:
    return _end(action, state=DONE, message=message, result=result)


def action_fail(*, action: DatasetAction, message: str) -> bool:
    logger.info("action %s (%s on dataset %s) failed: %s", action.id, action.kind, action.dataset_id, message)
    return _end(action, state=FAILED, message=message or "failed")


def error_text(exc: BaseException) -> str:
    """The message a failed action keeps: a domain error's own, else the exception's type too."""
    if isinstance(exc, DomainError):
        return str(exc)
    detail = getattr(exc, "detail", None)  # DRF and Django HTTP errors
    return str(detail) if detail is not None else f"{type(exc).__name__}: {exc}"


def _settle_from_job(action: DatasetAction) -> None:
    """End a train or export action whose job ended."""
    if action.export_job_id is not None:
        job = ExportJob.objects.select_related("split").get(id=action.export_job_id)
        action.export_job = job
        version = job.split.name if job.split else "the whole dataset"
        if job.status == ExportJob.Status.DONE:
            action_finish(
                action=action,
                message=f"{job.format} export of {version} done: {job.rows_done} videos",
                result={
                    "export_job": job.id,
                    "format": job.format,
                    "split": job.split.name if job.split else None,
                    "rows": job.rows_done,
                    "files": sorted(job.manifest.get("files", {})),
                },
            )
        elif job.status == ExportJob.Status.FAILED:
            action_fail(action=action, message=f"export failed: {job.error}")
    elif action.model_run_id is not None:
        run = ModelRun.objects.defer("state").get(id=action.model_run_id)
        action.model_run = run
        if run.status == ModelRun.Status.DONE:
            action_finish(
                action=action,
                message=f"model run {run.version} trained in {run.train_seconds or 0:.1f} s",
                result={"model_run": run.id, "version": run.version, "status": run.status},
            )
        elif run.status == ModelRun.Status.FAILED:
            action_fail(action=action, message=f"training failed: {run.error}")


def actions_job_ended(*, export_job_id: int | None = None, model_run_id: int | None = None) -> None:
    """Called by the export and training tasks when they end, whatever the outcome."""
    running = DatasetAction.objects.filter(state=RUNNING)
    if export_job_id is not None:
        running = running.filter(export_job_id=export_job_id)
    elif model_run_id is not None:
        running = running.filter(model_run_id=model_run_id)
    else:
        return
    for action in running:
        _settle_from_job(action)


def _settle(action: DatasetAction, *, lock_free: bool) -> None:
    """Decide whether a running action still has a live holder; end it if not. `lock_free`: the
    caller holds (or just took) its kind's lock, so no request or worker holds it."""
    from curation.services.exports import export_is_stale
    from curation.services.modelling.training import model_runs_lost_fail

    if action.kind in JOB_KINDS:
        if action.kind == ActionKind.TRAIN:
            model_runs_lost_fail(dataset=action.dataset)
        if action.export_job_id is None and action.model_run_id is None:
            if lock_free:  # its request died between storing the row and creating the job
                action_fail(action=action, message=INTERRUPTED.format(action.kind))
            return
        _settle_from_job(action)
        job = action.export_job
        if action.state == RUNNING and job is not None and export_is_stale(job):
            action_fail(
                action=action,
                message=f"interrupted: export job {job.id} stopped sending a heartbeat (its worker died); "
                "request the export again to take it over",
            )
    elif lock_free and (action.kind in SYNC_KINDS or action.progress is not None):
        action_fail(action=action, message=INTERRUPTED.format(action.kind))


def actions_settle(*, dataset: Dataset) -> None:
    """Settle the dataset's running actions before they are shown (a read that writes only what
    is already decided: a job that ended, a holder that died)."""
    for action in DatasetAction.objects.filter(dataset=dataset, state=RUNNING).select_related("dataset"):
        if action.kind in JOB_KINDS and (action.export_job_id or action.model_run_id):
            _settle(action, lock_free=False)
            continue
        if _lock(dataset.id, action.kind):
            try:
                _settle(action, lock_free=True)
            finally:
                _unlock(dataset.id, action.kind)


# Starting -------------------------------------------------------------------------------------


def action_start(*, dataset: Dataset, kind: str, user=None, params: dict | None = None) -> DatasetAction:
    """A new running action of `kind`, holding its kind's lock (release it with action_release).
    Raises ActionRunning, carrying the running one, while one of the same kind runs."""
    if kind not in ActionKind.values:
        raise ValueError(f"unknown action kind {kind!r}")
    if not _lock(dataset.id, kind):
        running = DatasetAction.objects.filter(dataset=dataset, kind=kind, state=RUNNING).first()
        raise ActionRunning(running, kind=kind, dataset=dataset)
    try:
        running = DatasetAction.objects.filter(dataset=dataset, kind=kind, state=RUNNING).first()
        if running is not None:
            _settle(running, lock_free=True)
            if running.state == RUNNING:
                raise ActionRunning(running, kind=kind, dataset=dataset)
        user = user if getattr(user, "is_authenticated", False) else None
        try:
            with transaction.atomic():
                return DatasetAction.objects.create(
                    dataset=dataset, kind=kind, params=params or {}, started_by=user
                )
        except IntegrityError:  # the partial unique index: a row stored without the lock
            running = DatasetAction.objects.filter(dataset=dataset, kind=kind, state=RUNNING).first()
            raise ActionRunning(running, kind=kind, dataset=dataset) from None
    except BaseException:
        _unlock(dataset.id, kind)
        raise


def action_release(*, action: DatasetAction) -> None:
    _unlock(action.dataset_id, action.kind)


@dataclass
class ActionRun:
    """What a view does inside `action_run`: say how the action ended (`done`), or hand it to a
    job (`link`) that ends it later."""

    action: DatasetAction
    message: str = ""
    result: dict = field(default_factory=dict)

    def done(self, *, message: str, result: dict | None = None) -> None:
        self.message, self.result = message, result or {}

    def link(
        self, *, export_job: ExportJob | None = None, model_run: ModelRun | None = None, message: str = ""
    ) -> None:
        """Follow a job: the action runs until it ends (at once if it already has, e.g. an export
        of the same frozen split whose files are there). Call inside the transaction that enqueues
        the job, so its end cannot come before the link."""
        action = self.action
        action.export_job, action.model_run, action.message = export_job, model_run, message
        action.save(update_fields=["export_job", "model_run", "message"])
        _settle_from_job(action)


@contextmanager
def action_run(*, dataset: Dataset, kind: str, user=None, params: dict | None = None) -> Iterator[ActionRun]:
    """Record what the block does as an action of `kind`: refused (ActionRunning) while one runs,
    failed with the error's message if the block raises (the error goes on to the caller, so the
    HTTP answer is the one it always was), done when it returns, unless it linked a job."""
    run = ActionRun(action_start(dataset=dataset, kind=kind, user=user, params=params))
    try:
        yield run
    except BaseException as exc:
        try:
            action_fail(action=run.action, message=error_text(exc))
        except DatabaseError:  # the database went away: the caller's error is the one to answer,
            # and the row, left running with its lock freed, is marked interrupted when next read
            logger.exception("action %s: could not record its failure", run.action.id)
        raise
    else:
        linked = run.action.export_job_id or run.action.model_run_id or kind == ActionKind.SCORE
        if run.action.state == RUNNING and not linked:
            action_finish(action=run.action, message=run.message, result=run.result)
    finally:
        try:
            action_release(action=run.action)
        except DatabaseError:  # a closed session has freed its locks already
            logger.warning("action %s: its lock went with the database session", run.action.id)


# The score job ------------------------------------------------------------------------------------


def score_action_run(*, action_id: int, run_id: int | None) -> int:
    """The score action's Celery job: score the dataset holding the action's lock, with progress;
    returns the videos scored. A duplicate delivery, or an action that ended, does nothing."""
    from curation.services.modelling import dataset_score

    action = DatasetAction.objects.select_related("dataset").get(id=action_id)
    # Blocking: a request holds this lock only for the moments it takes to start an action.
    _lock(action.dataset_id, action.kind, wait=True)
    try:
        if not DatasetAction.objects.filter(id=action_id, state=RUNNING, progress__isnull=True).update(
            progress=0
        ):
            return 0

        def progress(done: int, total: int) -> None:
            DatasetAction.objects.filter(id=action_id).update(
                progress=round(done / total, 4) if total else 1.0
            )

        try:
            summary = dataset_score(dataset_id=action.dataset_id, run_id=run_id, progress=progress)
        except BaseException as exc:
            action_fail(action=action, message=error_text(exc))
            raise
        DatasetAction.objects.filter(id=action_id).update(progress=1.0)
        action_finish(
            action=action,
            message=f"{summary.scored} videos scored ({', '.join(summary.versions)})",
            result={"scored": summary.scored, "versions": summary.versions},
        )
        return summary.scored
    finally:
        _unlock(action.dataset_id, action.kind)

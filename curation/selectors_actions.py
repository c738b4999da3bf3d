"""Reads of the dataset page's actions (curation/services/actions.py starts and ends them): one
action as the JSON the page and the API show, and a dataset's running and recent ones."""

from django.db.models import QuerySet
from django.urls import reverse

from curation.errors import CurationError
from curation.models import Dataset, DatasetAction, ExportJob

RECENT_LISTED = 20


class ActionNotFound(CurationError):
    pass


def export_file_urls(job: ExportJob) -> list[str]:
    """Download paths of a finished export's files, its manifest first (none before it is done)."""
    if job.status != ExportJob.Status.DONE:
        return []
    names = ["manifest.json", *job.manifest.get("files", {})]
    return [reverse("curation:export-file", args=[job.id, name]) for name in names]


def _actions() -> QuerySet[DatasetAction]:
    return DatasetAction.objects.select_related("dataset", "started_by", "export_job", "model_run").defer(
        "model_run__state"
    )


def _progress(action: DatasetAction) -> float | None:
    if action.export_job is not None:
        return round(action.export_job.progress, 4)
    if action.model_run is not None:
        return round(action.model_run.progress, 4)
    if action.progress is not None:
        return action.progress
    return 1.0 if action.state == DatasetAction.State.DONE else None


def _links(action: DatasetAction) -> dict:
    links = {}
    if action.export_job is not None:
        links["export"] = reverse("curation:export-detail", args=[action.export_job_id])
        links["files"] = export_file_urls(action.export_job)
    if action.model_run is not None:
        links["model_run"] = reverse("curation:model-run-detail", args=[action.model_run_id])
    split = action.result.get("split") if action.kind in ("make_split", "freeze_split") else None
    if split:
        links["split"] = reverse("curation:split-detail", args=[action.dataset.slug, split])
    return links


def action_json(action: DatasetAction) -> dict:
    return {
        "id": action.id,
        "dataset": action.dataset.slug,
        "kind": action.kind,
        "state": action.state,
        "params": action.params,
        "message": action.message,
        "result": action.result,
        "progress": _progress(action),
        "started_by": action.started_by.username if action.started_by else None,
        "started_at": action.started_at.isoformat(),
        "finished_at": action.finished_at.isoformat() if action.finished_at else None,
        "links": _links(action),
    }


def action_list(*, dataset: Dataset) -> dict:
    """The running actions (oldest first) and the newest finished ones (at most RECENT_LISTED)."""
    actions = _actions().filter(dataset=dataset)
    running = actions.filter(state=DatasetAction.State.RUNNING).order_by("started_at", "id")
    recent = actions.exclude(state=DatasetAction.State.RUNNING).order_by("-started_at", "-id")
    return {
        "running": [action_json(a) for a in running],
        "recent": [action_json(a) for a in recent[:RECENT_LISTED]],
    }


def action_get(*, action_id: int) -> DatasetAction:
    action = _actions().filter(id=action_id).first()
    if action is None:
        raise ActionNotFound(f"there is no action {action_id}")
    return action

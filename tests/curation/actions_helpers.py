"""What the action tests share: a staff client, a live holder of an action's lock in another
database session, and the POST of each kind the dataset page's buttons send."""

from contextlib import contextmanager

import psycopg
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from curation.models import DatasetAction
from curation.services.actions import action_lock_key
from tests.processes import database_url


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@contextmanager
def held_elsewhere(dataset, kind: str):
    """The kind's lock held by another session, as a request or worker running it would."""
    with psycopg.connect(database_url(), autocommit=True) as other:
        other.execute("SELECT pg_advisory_lock(%s, %s)", action_lock_key(dataset_id=dataset.id, kind=kind))
        yield other


def running(dataset, kind: str, user=None, **fields) -> DatasetAction:
    return DatasetAction.objects.create(dataset=dataset, kind=kind, started_by=user, **fields)


def post_kind(client: APIClient, slug: str, kind: str, split: str = "v1"):
    """One click of the button of `kind`, as the page sends it."""
    if kind == "ingest":
        manifest = SimpleUploadedFile("m.jsonl", b'{"video": "a.mp4", "id": "a"}\n')
        return client.post(f"/api/v1/datasets/{slug}/ingest/", {"manifest": manifest, "pipeline": "none"})
    urls = {
        "create_tasks": (f"/api/v1/annotation/datasets/{slug}/tasks/", {"kind": "topic"}),
        "aggregate": (f"/api/v1/datasets/{slug}/aggregate/", {"method": "mv"}),
        "make_split": (f"/api/v1/datasets/{slug}/splits/", {"name": "v9", "ratios": "0.5,0.5"}),
        "freeze_split": (f"/api/v1/datasets/{slug}/splits/{split}/freeze/", {}),
        "retry": (f"/api/v1/datasets/{slug}/pipeline/retry/", {"video_ids": [1]}),
        "train": (f"/api/v1/datasets/{slug}/model-runs/", {"split": split}),
        "score": (f"/api/v1/datasets/{slug}/scores/", {}),
        "export": (f"/api/v1/datasets/{slug}/exports/", {"format": "csv"}),
    }
    url, body = urls[kind]
    return client.post(url, body, format="json")

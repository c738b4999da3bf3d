"""Actions that a Celery job ends (export, train, score), run here by calling their tasks in this
process, and a real second click while the first request is still working."""

import threading
import time
from datetime import timedelta

import psycopg
import pytest
from django.db import connection
from django.utils import timezone

from curation import tasks
from curation.models import DatasetAction, ExportJob, ModelRun, Split, Video
from curation.selectors_actions import export_file_urls
from curation.services.datasets import dataset_create
from tests.curation.actions_helpers import client_for, post_kind
from tests.curation.export_fixtures import export, make_split, release_fixture, var_dir_fixture  # noqa: F401
from tests.processes import database_url

pytestmark = pytest.mark.django_db


def test_an_export_action_runs_with_its_job_and_is_done_with_the_files(
    release, curator, django_capture_on_commit_callbacks
):
    client = client_for(curator)
    with django_capture_on_commit_callbacks() as queued:
        response = client.post(
            f"/api/v1/datasets/{release.slug}/exports/", {"format": "csv", "split": "v1"}, format="json"
        )
    assert response.status_code == 202, response.content
    job, action = ExportJob.objects.get(), response.json()["action"]
    assert response.json()["status"] == "queued" and len(queued) == 1  # the job's keys, kept
    assert (action["kind"], action["state"], action["progress"]) == ("export", "running", 0.0)
    assert action["links"] == {"export": f"/api/v1/exports/{job.id}/", "files": []}
    assert post_kind(client, release.slug, "export").status_code == 409

    assert tasks.export_run_task(job.id) == "done"  # what the worker runs

    detail = client.get(f"/api/v1/actions/{action['id']}/").json()
    job.refresh_from_db()
    assert (detail["state"], detail["progress"]) == ("done", 1.0)
    assert detail["message"] == "csv export of v1 done: 11 videos"
    assert detail["links"]["files"] == export_file_urls(job)
    assert detail["links"]["files"][0] == f"/api/v1/exports/{job.id}/files/manifest.json"
    assert client.get(detail["links"]["files"][1]).status_code == 200
    assert detail["result"]["rows"] == 11 and detail["result"]["export_job"] == job.id

    # The same frozen split and format again: its files are there, so the action is done at once.
    again = client.post(
        f"/api/v1/datasets/{release.slug}/exports/", {"format": "csv", "split": "v1"}, format="json"
    )
    assert again.status_code == 202 and again.json()["id"] == job.id
    assert again.json()["action"]["state"] == "done" and again.json()["action"]["links"]["files"]


def test_an_export_whose_worker_died_is_interrupted_and_the_next_click_takes_it_over(
    release, curator, django_capture_on_commit_callbacks
):
    split = Split.objects.get(dataset=release, name="v1")
    job = ExportJob.objects.create(
        dataset=release, split=split, format="csv", status="running",
        started_at=timezone.now() - timedelta(hours=1), heartbeat_at=timezone.now() - timedelta(hours=1),
    )  # fmt: skip
    lost = DatasetAction.objects.create(dataset=release, kind="export", export_job=job)
    with django_capture_on_commit_callbacks() as queued:
        response = client_for(curator).post(
            f"/api/v1/datasets/{release.slug}/exports/", {"format": "csv", "split": "v1"}, format="json"
        )
    assert response.status_code == 202, response.content
    lost.refresh_from_db()
    assert lost.state == "failed" and lost.message.startswith(f"interrupted: export job {job.id} stopped")
    assert response.json()["id"] == job.id and response.json()["action"]["state"] == "running"
    assert len(queued) == 1  # queued again: its next run takes it over


def test_a_training_that_fails_fails_its_action_with_the_reason(
    release, curator, django_capture_on_commit_callbacks
):
    client = client_for(curator)
    with django_capture_on_commit_callbacks() as queued:
        response = client.post(f"/api/v1/datasets/{release.slug}/model-runs/", {"split": "v1"}, format="json")
    assert response.status_code == 202, response.content
    run, action = ModelRun.objects.get(), response.json()["action"]
    assert response.json()["status"] == "queued" and len(queued) == 1
    assert action["links"] == {"model_run": f"/api/v1/model-runs/{run.id}/"} and action["state"] == "running"

    assert tasks.model_run_train_task(run.id) == "failed"  # no features were computed

    run.refresh_from_db()
    detail = client.get(f"/api/v1/actions/{action['id']}/").json()
    assert detail["state"] == "failed" and detail["message"] == f"training failed: {run.error}"
    assert post_kind(client, release.slug, "train").status_code == 202  # free again


def test_a_score_action_is_queued_then_run_by_its_job_with_progress(
    release, curator, django_capture_on_commit_callbacks
):
    client = client_for(curator)
    with django_capture_on_commit_callbacks() as queued:
        response = client.post(f"/api/v1/datasets/{release.slug}/scores/", {}, format="json")
    assert response.status_code == 202, response.content
    action = response.json()["action"]
    assert response.json()["detail"] == f"scoring of {release.slug} queued" and len(queued) == 1
    assert (action["state"], action["progress"], action["message"]) == (
        "running", None, f"scoring of {release.slug} queued"
    )  # fmt: skip

    assert tasks.dataset_score_task(release.id, None, action["id"]) == 0  # no video has features
    assert tasks.dataset_score_task(release.id, None, action["id"]) == 0  # a second delivery: nothing

    detail = client.get(f"/api/v1/actions/{action['id']}/").json()
    assert (detail["state"], detail["progress"]) == ("done", 1.0)
    assert detail["result"]["scored"] == 0 and detail["message"].startswith("0 videos scored (")


def test_scoring_with_an_unknown_model_fails_its_action_with_the_404s_text(release, curator):
    response = client_for(curator).post(
        f"/api/v1/datasets/{release.slug}/scores/", {"model": 999}, format="json"
    )
    assert response.status_code == 404
    action = DatasetAction.objects.get()
    assert (action.state, action.message) == ("failed", response.json()["detail"])


@pytest.mark.django_db(transaction=True)
def test_a_second_click_while_the_first_request_works_is_a_409_with_the_first(curator):
    """Real concurrency: the first freeze waits on a row another session holds, while the second
    click comes; the first then finishes."""
    dataset = dataset_create(slug="race", name="Race")
    video = Video.objects.create(dataset=dataset, external_id="a", source="/x/a.mp4", source_kind="file")
    split = make_split(dataset, "v1", [(video, "train", False)], frozen=False)
    first: dict = {}

    def click() -> None:
        try:
            first["response"] = post_kind(client_for(curator), "race", "freeze_split")
        finally:
            connection.close()

    with psycopg.connect(database_url()) as blocker:
        blocker.execute("SELECT id FROM curation_split WHERE id = %s FOR UPDATE", [split.id])
        thread = threading.Thread(target=click)
        thread.start()
        deadline = time.monotonic() + 20
        while not DatasetAction.objects.filter(state="running").exists():
            assert time.monotonic() < deadline, "the first click never started"
            time.sleep(0.05)
        second = post_kind(client_for(curator), "race", "freeze_split")
        blocker.rollback()
    thread.join(timeout=30)
    running = DatasetAction.objects.get(kind="freeze_split")
    assert second.status_code == 409 and second.json()["action"]["id"] == running.id
    assert first["response"].status_code == 200, first["response"].content
    assert first["response"].json()["action"]["id"] == running.id
    running.refresh_from_db()
    assert running.state == "done" and DatasetAction.objects.count() == 1

"""The dataset page's actions: each button's POST records an action, a second click while one of
the same kind runs is a 409 carrying the running one and starts nothing, a failure keeps the
service's error, and an action whose holder died does not block for ever."""

import re

import pytest
from django.db import IntegrityError, transaction

from curation.models import AggregationRun, DatasetAction, ExportJob, IngestRun, ModelRun, Split, Video
from curation.services.datasets import dataset_create
from tests.curation.actions_helpers import client_for, held_elsewhere, post_kind, running
from tests.curation.export_fixtures import make_split

pytestmark = pytest.mark.django_db

SYNC_KINDS = ("ingest", "create_tasks", "aggregate", "make_split", "freeze_split", "retry")
ACTION_KEYS = {"id", "dataset", "kind", "state", "params", "message", "result", "progress", "started_by",
               "started_at", "finished_at", "links"}  # fmt: skip


@pytest.fixture
def page(db, curator):
    """A dataset with two videos and an unfrozen split v1 of one of them."""
    dataset = dataset_create(slug="page", name="Page")
    video = Video.objects.create(dataset=dataset, external_id="a", source="/x/a.mp4", source_kind="file")
    Video.objects.create(dataset=dataset, external_id="b", source="/x/b.mp4", source_kind="file")
    make_split(dataset, "v1", [(video, "train", False)], frozen=False)
    return dataset


def nothing_started(dataset) -> dict:
    """What any of the buttons would have written."""
    return {
        "ingest runs": IngestRun.objects.filter(dataset=dataset).count(),
        "aggregations": AggregationRun.objects.filter(dataset=dataset).count(),
        "splits": list(Split.objects.filter(dataset=dataset).values_list("name", "frozen_at")),
        "exports": ExportJob.objects.filter(dataset=dataset).count(),
        "model runs": ModelRun.objects.filter(dataset=dataset).count(),
        "actions": DatasetAction.objects.filter(dataset=dataset).count(),
    }


@pytest.mark.parametrize("kind", SYNC_KINDS)
def test_a_second_click_on_a_running_sync_action_is_a_409_that_shows_it(page, curator, kind):
    first = running(page, kind, user=curator, params={"first": True})
    before = nothing_started(page)
    with held_elsewhere(page, kind):
        response = post_kind(client_for(curator), page.slug, kind)
    assert response.status_code == 409, response.content
    body = response.json()
    assert re.fullmatch(
        rf"{kind} is already running on page: started by curator at \d{{4}}-\d\d-\d\d \d\d:\d\d:\d\d UTC",
        body["detail"],
    )
    assert body["action"]["id"] == first.id and body["action"]["state"] == "running"
    assert set(body["action"]) == ACTION_KEYS and body["action"]["params"] == {"first": True}
    assert nothing_started(page) == before


def test_a_second_click_on_a_queued_training_score_or_export_is_a_409(page, curator):
    Split.objects.filter(dataset=page).update(frozen_at="2026-01-01T00:00:00Z")
    split = Split.objects.get(dataset=page)
    model_run = ModelRun.objects.create(dataset=page, split=split, version="page/v1/run-1")
    job = ExportJob.objects.create(dataset=page, format="csv")
    first = {
        "train": running(page, "train", model_run=model_run),
        "export": running(page, "export", export_job=job),
        "score": running(page, "score"),  # queued: no worker has started it (no progress)
    }
    before = nothing_started(page)
    client = client_for(curator)
    for kind, action in first.items():
        response = post_kind(client, page.slug, kind)
        assert response.status_code == 409, (kind, response.content)
        assert response.json()["detail"].startswith(f"{kind} is already running on page: started by someone")
        assert response.json()["action"]["id"] == action.id
    assert nothing_started(page) == before


def test_the_database_refuses_a_second_running_action_of_a_kind(page):
    running(page, "aggregate")
    running(page, "retry")  # another kind: allowed
    with pytest.raises(IntegrityError), transaction.atomic():
        running(page, "aggregate")


def test_a_running_sync_action_whose_request_died_is_marked_interrupted_by_the_next_click(page, curator):
    dead = running(page, "freeze_split", user=curator)  # no session holds its lock: its process died
    response = post_kind(client_for(curator), page.slug, "freeze_split")
    assert response.status_code == 200, response.content
    dead.refresh_from_db()
    assert dead.state == "failed" and dead.finished_at is not None
    assert (
        dead.message
        == "interrupted: freeze_split stopped before it finished (its process ended); start it again"
    )
    assert response.json()["action"]["state"] == "done"


def test_reading_the_actions_settles_dead_holders_and_leaves_live_and_queued_ones(page, curator):
    dead = running(page, "ingest")
    live = running(page, "aggregate")
    queued_score = running(page, "score")
    dead_split = running(page, "make_split")
    client = client_for(curator)
    with held_elsewhere(page, "aggregate"):
        body = client.get("/api/v1/datasets/page/actions/").json()
    assert [a["id"] for a in body["running"]] == [live.id, queued_score.id]
    assert {a["id"]: a["state"] for a in body["recent"]} == {dead_split.id: "failed", dead.id: "failed"}


def test_a_started_score_whose_worker_died_is_interrupted_and_a_queued_one_waits(page, curator):
    queued = running(page, "score")
    client = client_for(curator)
    assert client.get(f"/api/v1/actions/{queued.id}/").json()["state"] == "running"
    DatasetAction.objects.filter(id=queued.id).update(progress=0.4)  # a worker started it
    with held_elsewhere(page, "score"):  # ... and is alive
        assert client.get(f"/api/v1/actions/{queued.id}/").json()["state"] == "running"
    detail = client.get(f"/api/v1/actions/{queued.id}/").json()  # ... and died
    assert detail["state"] == "failed" and detail["message"].startswith("interrupted: score stopped")
    assert detail["progress"] == 0.4


def test_a_failing_service_fails_its_action_with_the_same_error_the_post_answers(page, curator):
    client = client_for(curator)
    response = client.post("/api/v1/datasets/page/aggregate/", {"method": "mv"}, format="json")
    assert response.status_code == 400
    action = DatasetAction.objects.get(kind="aggregate")
    assert (action.state, action.message) == ("failed", response.json()["detail"])
    assert action.finished_at is not None and not AggregationRun.objects.exists()

    frozen = client.post("/api/v1/datasets/page/splits/v1/freeze/")
    again = client.post("/api/v1/datasets/page/splits/v1/freeze/")
    assert frozen.status_code == 200 and again.status_code == 400
    assert again.json() == {"detail": "split v1 of dataset page is already frozen"}
    states = list(
        DatasetAction.objects.filter(kind="freeze_split").order_by("id").values_list("state", "message")
    )
    assert states == [
        ("done", "split v1 frozen"),
        ("failed", "split v1 of dataset page is already frozen"),
    ]


def test_bad_input_is_a_400_that_records_no_action(page, curator):
    client = client_for(curator)
    assert client.post("/api/v1/datasets/page/aggregate/", {"method": "x"}, format="json").status_code == 400
    assert client.post("/api/v1/datasets/page/exports/", {"format": "x"}, format="json").status_code == 400
    assert client.post("/api/v1/datasets/nope/aggregate/", {}, format="json").status_code == 404
    assert not DatasetAction.objects.exists()


def test_2xx_bodies_keep_their_keys_and_carry_the_action(page, curator):
    client = client_for(curator)
    tasks = client.post("/api/v1/annotation/datasets/page/tasks/", {"kind": "topic"}, format="json")
    assert tasks.status_code == 201, tasks.content
    assert {"kind", "created", "message", "action"} <= set(tasks.json())
    assert tasks.json()["action"]["kind"] == "create_tasks" and tasks.json()["action"]["state"] == "done"
    assert tasks.json()["action"]["message"] == tasks.json()["message"]

    made = client.post(
        "/api/v1/datasets/page/splits/", {"name": "v2", "ratios": "train=0.5,test=0.5"}, format="json"
    )
    assert made.status_code == 201, made.content
    action = made.json()["action"]
    assert made.json()["name"] == "v2" and made.json()["frozen"] is False
    assert (action["kind"], action["state"], action["progress"]) == ("make_split", "done", 1.0)
    assert action["params"] == {"name": "v2", "ratios": "train=0.5,test=0.5", "seed": 0, "method": None,
                                "freeze": False, "replace": False}  # fmt: skip
    assert action["links"] == {"split": "/api/v1/datasets/page/splits/v2/"}
    assert action["result"]["split"] == "v2" and action["started_by"] == "curator"

    ingest = post_kind(client, "page", "ingest")
    assert ingest.status_code == 200, ingest.content
    assert {"run_id", "rows_read", "created", "unchanged", "rejected", "errors", "action"} == set(
        ingest.json()
    )
    assert ingest.json()["action"]["params"] == {"manifest": "m.jsonl", "pipeline": "none"}
    assert ingest.json()["action"]["result"]["rows_read"] == 1


def test_the_actions_list_shows_running_ones_and_the_20_newest_finished(page, curator):
    for i in range(22):
        action = running(page, "retry")
        DatasetAction.objects.filter(id=action.id).update(
            state="done", finished_at="2026-01-01T00:00:00Z", message=f"#{i}"
        )
    live = running(page, "aggregate")
    with held_elsewhere(page, "aggregate"):
        body = client_for(curator).get("/api/v1/datasets/page/actions/").json()
    assert [a["id"] for a in body["running"]] == [live.id]
    assert [a["message"] for a in body["recent"]] == [f"#{i}" for i in range(21, 1, -1)]


@pytest.mark.parametrize("persona", ["worker1", "outsider"])
def test_only_staff_see_or_start_actions(page, persona, request):
    action = running(page, "retry")
    client = client_for(request.getfixturevalue(persona))
    assert client.get("/api/v1/datasets/page/actions/").status_code == 403
    assert client.get(f"/api/v1/actions/{action.id}/").status_code == 403
    assert (
        client.post("/api/v1/datasets/page/pipeline/retry/", {"video_ids": [1]}, format="json").status_code
        == 403
    )
    assert DatasetAction.objects.count() == 1


def test_unknown_action_and_dataset_are_404(page, curator):
    client = client_for(curator)
    assert client.get("/api/v1/actions/999999/").json() == {"detail": "there is no action 999999"}
    assert client.get("/api/v1/datasets/nope/actions/").status_code == 404


def test_the_admin_lists_actions_read_only(page, curator, client):
    action = running(page, "retry", user=curator)
    client.force_login(curator)
    assert client.get("/admin/curation/datasetaction/").status_code == 200
    assert client.get(f"/admin/curation/datasetaction/{action.id}/change/").status_code == 200
    assert client.get("/admin/curation/datasetaction/add/").status_code == 403

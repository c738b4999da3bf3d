"""Pausing a worker (or excluding their answers) takes back what they hold at once: before, a
paused worker still read the task they held and streamed its media until the lease ran out
(issue 13, item 8)."""

import pytest
from django.test import Client

from annotator.models import Assignment
from annotator.services.creation import tasks_create
from annotator.services.quality import annotator_set_excluded, annotator_set_paused

pytestmark = pytest.mark.django_db
API = "/api/v1/annotation"


def login(username: str) -> Client:
    client = Client()
    assert client.login(username=username, password=f"pw-{username}")
    return client


def take(client: Client, exclude: tuple[int, ...] = ()) -> dict:
    body = {"exclude": list(exclude)}
    return client.post(f"{API}/next/", body, content_type="application/json").json()


@pytest.fixture
def topic_tasks(dataset, ready_video):
    for _ in range(2):
        ready_video()
    tasks_create(dataset=dataset, kind="topic")


def test_a_paused_worker_can_no_longer_read_the_held_task_or_stream_its_media(curator, worker1, topic_tasks):
    worker = login("worker1")
    task = take(worker)
    assert worker.get(task["video_url"]).status_code == 200

    paused = login("curator").post(f"{API}/workers/worker1/", {"paused": True}, "application/json")
    shown = worker.get(f"{API}/assignments/{task['id']}/")
    video = worker.get(task["video_url"])

    assert paused.status_code == 200 and paused.json()["paused"] is True
    assert shown.status_code == 404
    assert video.status_code == 404 and b"do not hold this task" in video.content
    assert Assignment.objects.filter(
        id=task["id"], worker__isnull=True, lease_expires_at__isnull=True
    ).exists()


def test_pausing_gives_back_every_slot_the_worker_holds(worker1, topic_tasks):
    worker = login("worker1")
    first = take(worker)
    second = take(worker, exclude=(first["id"],))  # the task shown and the one prefetched

    annotator_set_paused(worker=worker1, paused=True)

    held = Assignment.objects.filter(id__in=[first["id"], second["id"]], worker__isnull=False)
    assert first["id"] != second["id"] and not held.exists()


def test_pausing_ends_the_media_and_undo_window_of_an_answered_task(worker1, topic_tasks):
    worker = login("worker1")
    task = take(worker)
    answered = worker.post(f"{API}/assignments/{task['id']}/answer/", {"choice": "yes"}, "application/json")
    assert answered.status_code == 201 and worker.get(task["video_url"]).status_code == 200

    annotator_set_paused(worker=worker1, paused=True)
    annotator_set_paused(worker=worker1, paused=False)
    video = worker.get(task["video_url"])
    undo = worker.post(f"{API}/assignments/{task['id']}/undo/", {}, "application/json")

    assert video.status_code == 404
    assert undo.status_code == 409 and "expired" in undo.json()["detail"]
    assert Assignment.objects.get(id=task["id"]).state == Assignment.State.ANSWERED


def test_a_resumed_worker_takes_work_again(worker1, topic_tasks):
    worker = login("worker1")
    take(worker)
    annotator_set_paused(worker=worker1, paused=True)
    annotator_set_paused(worker=worker1, paused=False)

    task = take(worker)

    assert worker.get(task["video_url"]).status_code == 200


def test_excluding_a_worker_frees_the_slot_they_hold_and_its_media(worker1, topic_tasks):
    worker = login("worker1")
    task = take(worker)

    annotator_set_excluded(worker=worker1, excluded=True)

    assert worker.get(task["video_url"]).status_code == 404
    assert Assignment.objects.get(id=task["id"]).worker_id is None

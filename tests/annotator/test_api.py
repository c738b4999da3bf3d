"""The REST API as workers, staff and outsiders use it (session and CSRF as a browser sends them)."""

import os

import pytest
import redis
from django.core import signing
from django.core.cache import cache
from django.test import Client

from annotator.media_links import SALT, media_token
from annotator.models import Answer, Assignment, Task
from annotator.services.creation import tasks_create
from curation.models import VideoSubtitle

pytestmark = pytest.mark.django_db
API = "/api/v1/annotation"


def login(client: Client, username: str) -> Client:
    assert client.login(username=username, password=f"pw-{username}")
    return client


@pytest.fixture
def topic_tasks(dataset, ready_video):
    for _ in range(3):
        ready_video()
    tasks_create(dataset=dataset, kind="topic")


def test_a_worker_takes_answers_and_undoes_a_task_through_the_api(client, worker1, topic_tasks):
    login(client, "worker1")

    task = client.post(f"{API}/next/", {}, content_type="application/json").json()
    assert task["kind"] == "topic" and task["question"].endswith(f"is its main topic {task['topic']}?")
    assert task["video_url"].startswith(f"{API}/media/") and task["answer"] is None
    assert not {"is_gold", "gold_answer", "truth_frame", "verdict"} & set(task)

    done = client.post(
        f"{API}/assignments/{task['id']}/answer/", {"choice": "no", "seconds": 3.5}, "application/json"
    )
    assert done.status_code == 201
    assert client.get(f"{API}/me/").json() == {
        "answers": 1,
        "answers_today": 1,
        "seconds_spent": 3.5,
        "held": 0,
    }

    undone = client.post(f"{API}/assignments/{task['id']}/undo/")
    assert undone.status_code == 200 and undone.json()["id"] == task["id"]
    assert not Answer.objects.exists()


def test_no_work_left_answers_204(client, worker1):
    login(client, "worker1")
    assert client.post(f"{API}/next/", {}, content_type="application/json").status_code == 204


def test_a_worker_cannot_read_or_answer_someone_elses_assignment(client, worker1, worker2, topic_tasks):
    theirs = login(Client(), "worker2").post(f"{API}/next/", {}, content_type="application/json").json()
    login(client, "worker1")

    assert client.get(f"{API}/assignments/{theirs['id']}/").status_code == 404
    refused = client.post(f"{API}/assignments/{theirs['id']}/answer/", {"choice": "yes"}, "application/json")
    assert refused.status_code == 404
    assert refused.json()["detail"] == f"Assignment {theirs['id']} is not leased to you."
    assert client.post(f"{API}/assignments/{theirs['id']}/undo/").status_code == 404
    assert not Answer.objects.exists()


def test_an_outsider_and_an_anonymous_visitor_get_no_tasks(client, outsider, topic_tasks):
    assert client.post(f"{API}/next/", {}, content_type="application/json").status_code == 401
    login(client, "outsider")
    refused = client.post(f"{API}/next/", {}, content_type="application/json")
    assert refused.status_code == 403 and "Only crowdworkers" in refused.json()["detail"]
    assert not Assignment.objects.filter(worker__isnull=False).exists()


def test_submitting_without_a_csrf_token_is_refused_and_nothing_is_stored(worker1, topic_tasks):
    browser = login(Client(enforce_csrf_checks=True), "worker1")
    page = browser.get("/")  # the page sets the CSRF cookie
    token = page.cookies["csrftoken"].value
    task = browser.post(
        f"{API}/next/", {}, content_type="application/json", headers={"X-CSRFToken": token}
    ).json()

    refused = browser.post(f"{API}/assignments/{task['id']}/answer/", {"choice": "yes"}, "application/json")

    assert refused.status_code == 403 and "CSRF" in refused.json()["detail"]
    assert not Answer.objects.exists()
    accepted = browser.post(
        f"{API}/assignments/{task['id']}/answer/",
        {"choice": "yes"},
        "application/json",
        headers={"X-CSRFToken": token},
    )
    assert accepted.status_code == 201


def test_refusals_carry_a_clear_message(client, worker1, topic_tasks):
    login(client, "worker1")
    task = client.post(f"{API}/next/", {}, content_type="application/json").json()
    url = f"{API}/assignments/{task['id']}/answer/"

    bad = client.post(url, {"choice": "perhaps"}, "application/json")
    assert bad.status_code == 400 and "answer one of: yes, no, unsure" in bad.json()["detail"]
    assert client.post(url, {"choice": "yes"}, "application/json").status_code == 201
    twice = client.post(url, {"choice": "no"}, "application/json")
    assert (
        twice.status_code == 409
        and twice.json()["detail"] == f"You have already answered assignment {task['id']}."
    )
    assert list(Answer.objects.values_list("choice", flat=True)) == ["yes"]


def test_a_paused_worker_is_refused_with_a_clear_message(client, curator, worker1, topic_tasks):
    login(client, "worker1")
    task = client.post(f"{API}/next/", {}, content_type="application/json").json()
    staff = login(Client(), "curator")
    assert (
        staff.post(f"{API}/workers/worker1/", {"paused": True}, "application/json").json()["paused"] is True
    )

    refused = client.post(f"{API}/assignments/{task['id']}/answer/", {"choice": "yes"}, "application/json")

    assert refused.status_code == 403 and "paused" in refused.json()["detail"]
    assert not Answer.objects.exists()


@pytest.mark.parametrize("shared_cache", [False, True])
def test_submitting_is_throttled_per_worker(client, settings, worker1, dataset, ready_video, shared_cache):
    redis_url = os.environ.get("CELERY_BROKER_URL", "redis://127.0.0.1:6379/0").rsplit("/", 1)[0] + "/13"
    if shared_cache:  # CACHE_URL: every server process sees the same count
        if not redis_url.startswith("redis://"):
            pytest.skip("needs Redis")
        settings.CACHES = {
            "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": redis_url}
        }
    cache.clear()  # no count left by an earlier test
    settings.MICROCURATE_SUBMIT_RATE = "2/min"
    for _ in range(4):
        ready_video()
    tasks_create(dataset=dataset, kind="topic")
    login(client, "worker1")
    statuses = []
    for _ in range(3):
        task = client.post(f"{API}/next/", {}, content_type="application/json").json()
        statuses.append(
            client.post(f"{API}/assignments/{task['id']}/answer/", {"choice": "yes"}, "application/json")
        )
    assert [r.status_code for r in statuses] == [201, 201, 429]
    assert Answer.objects.count() == 2
    if shared_cache:  # another process, with its own connection, reads the same count
        other = redis.Redis.from_url(redis_url)
        assert other.keys(f"*throttle_annotation-submit_{worker1.pk}")
        cache.clear()


def test_staff_create_tasks_and_see_progress_and_worker_quality(
    client, curator, worker1, dataset, ready_video
):
    for _ in range(3):
        ready_video()
    staff = login(client, "curator")

    created = staff.post(
        f"{API}/datasets/{dataset.slug}/tasks/", {"kind": "topic", "limit": 2}, "application/json"
    )
    assert created.status_code == 201 and created.json()["created"] == 2

    worker = login(Client(), "worker1")
    task = worker.post(f"{API}/next/", {}, content_type="application/json").json()
    worker.post(f"{API}/assignments/{task['id']}/answer/", {"choice": "no"}, "application/json")
    report = staff.get(f"{API}/datasets/{dataset.slug}/tasks/").json()
    (topic,) = report["progress"]
    assert (topic["kind"], topic["tasks"], topic["answered"], topic["needed"]) == ("topic", 2, 1, 4)
    assert [w["username"] for w in report["workers"]] == ["worker1"]


def test_staff_choose_the_verification_order_of_a_round(client, curator, dataset, ready_video):
    for _ in range(3):
        ready_video()
    staff = login(client, "curator")
    url = f"{API}/datasets/{dataset.slug}/tasks/"

    unknown = staff.post(url, {"kind": "topic", "order": "loudest"}, "application/json")
    assert unknown.status_code == 400 and "order" in unknown.json()
    no_model = staff.post(url, {"kind": "topic", "order": "likely_noise"}, "application/json")
    assert no_model.status_code == 400
    assert no_model.json()["detail"].startswith(f"dataset {dataset.slug} has no trained model")
    assert not Task.objects.exists()

    created = staff.post(url, {"kind": "topic", "order": "random", "limit": 2}, "application/json")
    assert created.status_code == 201 and created.json()["created"] == 2
    assert created.json()["action"]["params"]["order"] == "random"


def test_staff_endpoints_are_refused_to_workers(client, worker1, dataset):
    login(client, "worker1")
    assert (
        client.post(
            f"{API}/datasets/{dataset.slug}/tasks/", {"kind": "topic"}, "application/json"
        ).status_code
        == 403
    )
    assert client.get(f"{API}/datasets/{dataset.slug}/tasks/").status_code == 403
    assert client.post(f"{API}/workers/worker1/", {"paused": False}, "application/json").status_code == 403
    assert not Task.objects.exists()


def test_the_media_link_serves_the_proxy_to_the_lease_holder_only(client, worker1, worker2, topic_tasks):
    login(client, "worker1")
    task = client.post(f"{API}/next/", {}, content_type="application/json").json()

    video = client.get(task["video_url"])
    assert video.status_code == 200 and video["Content-Type"] == "video/mp4"
    body = b"".join(video.streaming_content)
    assert body[4:8] == b"ftyp"
    part = client.get(task["video_url"], headers={"Range": "bytes=0-99"})
    assert part.status_code == 206 and part["Content-Range"] == f"bytes 0-99/{len(body)}"

    other = login(Client(), "worker2")
    assert other.get(task["video_url"]).status_code == 403  # made for worker1
    assert Client().get(task["video_url"]).status_code == 403  # not logged in


def test_a_media_link_stops_working_when_the_lease_is_gone_or_the_link_is_forged(
    client, worker1, topic_tasks
):
    login(client, "worker1")
    task = client.post(f"{API}/next/", {}, content_type="application/json").json()
    forged = signing.dumps({"u": worker1.pk, "a": task["id"], "v": 1, "f": None}, salt="other")
    assert client.get(f"{API}/media/{forged}/").status_code == 403

    Assignment.objects.filter(id=task["id"]).update(worker=None, lease_expires_at=None)
    assert client.get(task["video_url"]).status_code == 404


def test_an_expired_media_link_is_refused(client, worker1, topic_tasks, monkeypatch):
    login(client, "worker1")
    task = client.post(f"{API}/next/", {}, content_type="application/json").json()
    assignment = Assignment.objects.select_related("task").get(id=task["id"])
    token = media_token(user_id=worker1.pk, video_id=assignment.task.video_id, assignment_id=assignment.id)
    monkeypatch.setattr("annotator.services.media.LINK_SECONDS", -1)

    refused = client.get(f"{API}/media/{token}/")

    assert refused.status_code == 403 and b"expired" in refused.content
    assert signing.loads(token, salt=SALT)["v"] == assignment.task.video_id


def test_the_task_shows_the_ocr_subtitle_once_ocr_has_run(client, worker1, dataset, ready_video):
    video = ready_video(title="a cat")
    VideoSubtitle.objects.create(video=video, text="<b>my cat</b> sleeps")
    tasks_create(dataset=dataset, kind="topic")
    login(client, "worker1")

    task = client.post(f"{API}/next/", {}, content_type="application/json").json()

    assert (task["title"], task["subtitle"]) == ("a cat", "<b>my cat</b> sleeps")  # the page shows it as text

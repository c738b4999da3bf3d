"""The API as scripts and the benchmark use it: an API token instead of a session. The token
look-up and the crowdworker check are one statement (annotator.permissions); the refusals are
DRF's own."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from rest_framework.authtoken.models import Token

from annotator.models import Answer, Assignment
from annotator.services.creation import tasks_create

pytestmark = pytest.mark.django_db
API = "/api/v1/annotation"


def token_client(user) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")


@pytest.fixture
def topic_tasks(dataset, ready_video):
    for _ in range(3):
        ready_video(title="a cat")
    tasks_create(dataset=dataset, kind="topic")


def test_a_crowdworker_with_a_token_takes_and_answers_a_task(worker1, dataset, topic_tasks):
    api = token_client(worker1)

    task = api.post(f"{API}/next/", {"dataset": dataset.slug}, content_type="application/json").json()
    answered = api.post(f"{API}/assignments/{task['id']}/answer/", {"choice": "no"}, "application/json")

    shown = (task["dataset"], task["kind"], task["title"], task["answer"])
    assert shown == (dataset.slug, "topic", "a cat", None)
    assert task["question"].endswith(f"is its main topic {task['topic']}?") and task["macro_topic"]
    assert answered.status_code == 201
    assert list(Answer.objects.values_list("worker__username", "choice")) == [("worker1", "no")]


def test_a_token_of_someone_outside_the_crowd_is_refused_and_nothing_is_leased(outsider, topic_tasks):
    refused = token_client(outsider).post(f"{API}/next/", {}, content_type="application/json")

    assert refused.status_code == 403 and "Only crowdworkers" in refused.json()["detail"]
    assert not Assignment.objects.filter(worker__isnull=False).exists()


def test_an_unknown_or_inactive_users_token_is_refused(worker1, topic_tasks):
    unknown = Client(HTTP_AUTHORIZATION="Token 0123456789abcdef0123456789abcdef01234567")
    inactive = token_client(worker1)
    worker1.is_active = False
    worker1.save()

    first = unknown.post(f"{API}/next/", {}, content_type="application/json")
    second = inactive.post(f"{API}/next/", {}, content_type="application/json")

    assert (first.status_code, first.json()["detail"]) == (401, "Invalid token.")
    assert (second.status_code, second.json()["detail"]) == (401, "User inactive or deleted.")
    assert not Assignment.objects.filter(worker__isnull=False).exists()


def test_asking_for_work_in_a_dataset_that_does_not_exist_answers_404_and_leases_nothing(
    worker1, topic_tasks
):
    api = token_client(worker1)
    refused = api.post(f"{API}/next/", {"dataset": "no-such"}, content_type="application/json")

    assert refused.status_code == 404 and refused.json()["detail"] == "No dataset 'no-such'."
    assert not Assignment.objects.filter(worker__isnull=False).exists()


def test_a_thumbnail_task_lists_its_candidate_frames_in_order_with_their_numbers(
    worker1, dataset, ready_video, with_frames
):
    frames = with_frames(ready_video(), count=3)
    tasks_create(dataset=dataset, kind="thumbnail")

    api = token_client(worker1)
    task = api.post(f"{API}/next/", {"kind": "thumbnail"}, content_type="application/json").json()

    assert [(f["id"], f["number"], f["timestamp"]) for f in task["frames"]] == [
        (frame.id, number, frame.timestamp) for number, frame in enumerate(frames, start=1)
    ]
    assert all(f["url"].startswith(f"{API}/media/") for f in task["frames"])


def age(token: Token, hours: float) -> Token:
    Token.objects.filter(key=token.key).update(created=timezone.now() - timedelta(hours=hours))
    return token


def test_a_token_older_than_its_lifetime_is_refused_and_leases_nothing(settings, worker1, topic_tasks):
    settings.MICROCURATE_TOKEN_TTL_HOURS = 24
    old = age(Token.objects.create(user=worker1), hours=25)

    refused = Client(HTTP_AUTHORIZATION=f"Token {old.key}").post(
        f"{API}/next/", {}, content_type="application/json"
    )

    assert refused.status_code == 401 and "expired" in refused.json()["detail"]
    assert not Assignment.objects.filter(worker__isnull=False).exists()


def test_a_token_within_its_lifetime_works(settings, worker1, dataset, topic_tasks):
    settings.MICROCURATE_TOKEN_TTL_HOURS = 24
    young = age(Token.objects.create(user=worker1), hours=23)

    taken = Client(HTTP_AUTHORIZATION=f"Token {young.key}").post(
        f"{API}/next/", {"dataset": dataset.slug}, content_type="application/json"
    )

    assert taken.status_code == 200


def test_with_a_lifetime_of_zero_tokens_never_expire(settings, worker1, dataset, topic_tasks):
    settings.MICROCURATE_TOKEN_TTL_HOURS = 0
    ancient = age(Token.objects.create(user=worker1), hours=24 * 365 * 20)

    taken = Client(HTTP_AUTHORIZATION=f"Token {ancient.key}").post(
        f"{API}/next/", {"dataset": dataset.slug}, content_type="application/json"
    )

    assert taken.status_code == 200


def test_an_expired_staff_token_is_refused_by_the_dataset_api_too_until_renewed(settings, curator, dataset):
    settings.MICROCURATE_TOKEN_TTL_HOURS = 24
    old = age(Token.objects.create(user=curator), hours=25)

    refused = Client(HTTP_AUTHORIZATION=f"Token {old.key}").get("/api/v1/datasets/")
    old.delete()  # what `manage.py drf_create_token -r curator` does
    renewed = Token.objects.create(user=curator)
    accepted = Client(HTTP_AUTHORIZATION=f"Token {renewed.key}").get("/api/v1/datasets/")

    assert refused.status_code == 401 and "expired" in refused.json()["detail"]
    assert accepted.status_code == 200

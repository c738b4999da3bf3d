"""JSON request bodies are capped in size and depth (issue 13): 100,000 nested brackets gave a 500
(the decoder's RecursionError), and a body of any size was read whole. Past either cap every API
view, the crowdworkers' JSON-only ones included, answers 400 with the reason and does nothing."""

import pytest
from django.test import Client
from rest_framework.authtoken.models import Token

from config.json_parser import MAX_BYTES, MAX_DEPTH
from curation.models import Dataset

pytestmark = pytest.mark.django_db
NEXT = "/api/v1/annotation/next/"


def nested(depth: int) -> str:
    return '{"a": ' * (depth - 1) + "[]" + "}" * (depth - 1)


@pytest.fixture
def worker_api(worker1) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=worker1).key}")


@pytest.fixture
def curator_api(curator) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=curator).key}")


def test_a_hundred_thousand_nested_brackets_get_400_not_500(worker_api, curator_api):
    body = "[" * 100_000 + "]" * 100_000
    for api, path in ((worker_api, NEXT), (curator_api, "/api/v1/datasets/")):
        response = api.post(path, body, content_type="application/json")
        assert response.status_code == 400, path
        assert response.json()["detail"] == f"JSON parse error - nested deeper than {MAX_DEPTH} levels."
    assert not Dataset.objects.exists()


def test_a_body_nested_just_past_the_cap_is_refused_and_one_at_the_cap_is_read(worker_api, curator_api):
    assert worker_api.post(NEXT, nested(MAX_DEPTH + 1), content_type="application/json").status_code == 400
    assert worker_api.post(NEXT, nested(MAX_DEPTH), content_type="application/json").status_code == 204
    deep = '{"slug": "deep", "extra": ' + nested(MAX_DEPTH + 1) + "}"
    assert curator_api.post("/api/v1/datasets/", deep, content_type="application/json").status_code == 400
    shallow = '{"slug": "shallow", "extra": ' + nested(MAX_DEPTH - 1) + "}"
    assert curator_api.post("/api/v1/datasets/", shallow, content_type="application/json").status_code == 201
    assert list(Dataset.objects.values_list("slug", flat=True)) == ["shallow"]


def test_a_body_over_the_size_cap_gets_400_and_creates_nothing(worker_api, curator_api):
    padding = "x" * MAX_BYTES
    for api, path in ((worker_api, NEXT), (curator_api, "/api/v1/datasets/")):
        response = api.post(path, f'{{"slug": "big", "name": "{padding}"}}', content_type="application/json")
        assert response.status_code == 400, path
        assert response.json()["detail"] == f"JSON parse error - the body is over {MAX_BYTES} bytes."
    assert not Dataset.objects.exists()

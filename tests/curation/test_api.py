"""The staff REST API: datasets, ingest upload, videos; crowdworkers and strangers are refused."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from curation.models import Video

pytestmark = pytest.mark.django_db


@pytest.fixture
def as_curator(curator):
    client = APIClient()
    client.force_authenticate(curator)
    return client


def test_only_staff_may_use_the_curation_api(worker1, dataset):
    anonymous = APIClient()
    worker = APIClient()
    worker.force_authenticate(worker1)
    for client, code in ((anonymous, 401), (worker, 403)):
        assert client.get("/api/v1/datasets/").status_code == code
        assert client.get(f"/api/v1/datasets/{dataset.slug}/videos/").status_code == code
        assert client.post("/api/v1/datasets/", {"slug": "x"}).status_code == code


def test_a_curator_creates_a_dataset_with_the_usv_taxonomy(as_curator):
    response = as_curator.post(
        "/api/v1/datasets/",
        {"slug": "usv2", "name": "USV 2", "taxonomy": "usv", "annotation_overlap": 3},
        format="json",
    )
    assert response.status_code == 201, response.content
    assert response.json()["topic_count"] == 212 and response.json()["annotation_overlap"] == 3
    again = as_curator.post("/api/v1/datasets/", {"slug": "usv2"}, format="json")
    assert again.status_code == 400 and "already exists" in again.json()["detail"]


def test_token_authentication_works(curator, dataset):
    token = Token.objects.create(user=curator)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    assert client.get(f"/api/v1/datasets/{dataset.slug}/").json()["topic_count"] == 212


def test_ingest_by_upload_reports_row_errors_and_lists_the_videos(as_curator, dataset, make_clip):
    make_clip("up/a.mp4", seconds=1)
    rows = [{"video": "up/a.mp4", "id": "a", "topic": "yoga"}, {"video": "../../etc/passwd", "id": "evil"}]
    upload = SimpleUploadedFile("batch.jsonl", "".join(json.dumps(r) + "\n" for r in rows).encode())

    response = as_curator.post(
        f"/api/v1/datasets/{dataset.slug}/ingest/",
        {"manifest": upload, "pipeline": "none"},
        format="multipart",
    )

    body = response.json()
    assert response.status_code == 200, body
    assert (body["created"], body["rejected"]) == (1, 1)
    assert body["errors"][0]["row"] == 2 and "outside the allowed media roots" in body["errors"][0]["reason"]
    videos = as_curator.get(f"/api/v1/datasets/{dataset.slug}/videos/?topic=yoga").json()
    assert [v["external_id"] for v in videos["results"]] == ["a"]
    detail = as_curator.get(f"/api/v1/videos/{Video.objects.get().id}/").json()
    assert detail["weak_topic"] == "yoga" and detail["probe_status"] == "pending"


def test_an_upload_with_a_wrong_header_is_refused_whole(as_curator, dataset):
    upload = SimpleUploadedFile("bad.csv", b"path,name\nx,y\n")
    response = as_curator.post(
        f"/api/v1/datasets/{dataset.slug}/ingest/", {"manifest": upload}, format="multipart"
    )
    assert response.status_code == 400
    assert response.json()["detail"].startswith("bad.csv: manifest.csv: wrong CSV header")
    assert Video.objects.count() == 0


def test_bad_filters_are_rejected(as_curator, dataset):
    response = as_curator.get(f"/api/v1/datasets/{dataset.slug}/videos/?probe_status=sleeping")
    assert response.status_code == 400 and "probe_status" in response.json()

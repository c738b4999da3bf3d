"""Exports over the REST API and in the admin: staff request, follow and download; nobody else."""

import hashlib

import pytest
from rest_framework.test import APIClient

from curation.models import ExportJob
from tests.curation.export_fixtures import export, release_fixture, var_dir_fixture  # noqa: F401

pytestmark = pytest.mark.django_db


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


def test_staff_request_an_export_and_get_the_queued_job(release, curator, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        response = client_for(curator).post(
            f"/api/v1/datasets/{release.slug}/exports/", {"format": "parquet", "split": "v1"}, format="json"
        )
    assert response.status_code == 202, response.content
    job = ExportJob.objects.get()
    assert response.json()["id"] == job.id and response.json()["status"] == "queued"
    assert (job.split.name, job.format, job.requested_by) == ("v1", "parquet", curator)
    assert len(callbacks) == 1


def test_a_request_for_an_unfrozen_or_missing_split_is_a_400_that_says_why(release, curator):
    response = client_for(curator).post(
        f"/api/v1/datasets/{release.slug}/exports/", {"format": "csv", "split": "v7"}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["detail"] == "dataset usv-sample has no split named 'v7' (splits: v1)"
    assert not ExportJob.objects.exists()


def test_staff_follow_a_job_and_download_each_file_of_the_manifest(release, curator):
    job, folder = export(release, "csv")
    client = client_for(curator)

    detail = client.get(f"/api/v1/exports/{job.id}/").json()
    assert detail["status"] == "done" and detail["progress"] == 1.0 and detail["rows_done"] == 11
    assert detail["files"][0].endswith(f"/api/v1/exports/{job.id}/files/manifest.json")
    response = client.get(f"/api/v1/exports/{job.id}/files/train.csv")
    assert response.status_code == 200
    body = b"".join(response.streaming_content)
    assert hashlib.sha256(body).hexdigest() == detail["manifest"]["files"]["train.csv"]["sha256"]


@pytest.mark.parametrize("persona", ["worker1", "outsider"])
def test_crowdworkers_and_outsiders_get_403_everywhere(release, persona, request):
    job, _ = export(release, "jsonl")
    client = client_for(request.getfixturevalue(persona))

    assert client.post(f"/api/v1/datasets/{release.slug}/exports/", {"format": "csv"}).status_code == 403
    assert client.get(f"/api/v1/exports/{job.id}/").status_code == 403
    assert client.get(f"/api/v1/exports/{job.id}/files/train.jsonl").status_code == 403
    assert ExportJob.objects.count() == 1


@pytest.mark.parametrize(
    "name",
    ["../../../../etc/passwd", "..%2F..%2Fmanifest.json", "/etc/passwd", "train.jsonl/../../x", "nope.txt"],
)
def test_a_name_outside_the_manifest_is_a_404(release, curator, name):
    job, _ = export(release, "jsonl")
    assert client_for(curator).get(f"/api/v1/exports/{job.id}/files/{name}").status_code == 404


def test_files_of_a_job_that_is_not_done_are_a_404(release, curator):
    job, _ = export(release, "jsonl")
    ExportJob.objects.filter(id=job.id).update(status="failed")
    assert client_for(curator).get(f"/api/v1/exports/{job.id}/files/train.jsonl").status_code == 404


def test_the_admin_lists_jobs_with_progress_and_requests_one_from_its_form(release, curator, client):
    client.force_login(curator)
    job, _ = export(release, "jsonl")

    listing = client.get("/admin/curation/exportjob/")
    assert listing.status_code == 200 and b"100%" in listing.content and b"11 / 11" in listing.content
    page = client.get(f"/admin/curation/exportjob/{job.id}/change/")
    assert f"/admin/curation/exportjob/{job.id}/files/train.jsonl".encode() in page.content

    response = client.post(
        "/admin/curation/exportjob/request/",
        {"dataset": release.id, "split": job.split_id, "format": "webdataset"},
    )
    assert response.status_code == 302
    assert ExportJob.objects.filter(format="webdataset", status="queued").count() == 1


def test_the_admin_download_serves_manifest_files_to_staff_only(release, curator, worker1, client):
    job, folder = export(release, "srt")
    client.force_login(curator)
    response = client.get(f"/admin/curation/exportjob/{job.id}/files/subtitles/v00.srt")
    assert b"".join(response.streaming_content) == (folder / "subtitles/v00.srt").read_bytes()
    assert client.get(f"/admin/curation/exportjob/{job.id}/files/../manifest.json").status_code == 404

    client.force_login(worker1)
    response = client.get(f"/admin/curation/exportjob/{job.id}/files/subtitles/v00.srt")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]

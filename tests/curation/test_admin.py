import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from curation.models import IngestRun, Video
from curation.services.ingest import video_ingest

pytestmark = pytest.mark.django_db


def test_the_admin_lists_videos_with_their_probe_results(
    client, curator, dataset, shared_videos, write_manifest
):
    manifest = write_manifest(
        [{"video": str(shared_videos / "jsonize_iphone_rotated_portrait.mov"), "id": "iphone"}]
    )
    video_ingest(dataset=dataset, path=manifest, pipeline="inline")
    client.force_login(curator)

    page = client.get("/admin/curation/video/?probe_status__exact=done")

    assert page.status_code == 200
    text = page.content.decode()
    assert "iphone" in text and "320x568" in text and "2.201667" in text


def test_a_curator_uploads_a_manifest_in_the_admin(client, curator, dataset, make_clip):
    make_clip("adm/a.mp4", seconds=1)
    client.force_login(curator)
    upload = SimpleUploadedFile("m.jsonl", (json.dumps({"video": "adm/a.mp4", "id": "a"}) + "\n").encode())

    form = client.get(f"/admin/curation/dataset/{dataset.id}/ingest/")
    response = client.post(
        f"/admin/curation/dataset/{dataset.id}/ingest/", {"manifest": upload, "pipeline": "none"}, follow=True
    )

    assert form.status_code == 200 and b"Ingest a manifest" in form.content
    assert Video.objects.filter(external_id="a").exists()
    assert IngestRun.objects.get().source == "upload: m.jsonl"
    assert "1 new videos" in response.content.decode()


def test_crowdworkers_cannot_open_the_admin(client, worker1, dataset):
    client.force_login(worker1)
    assert client.get(f"/admin/curation/dataset/{dataset.id}/ingest/").status_code == 302
    assert client.get("/admin/curation/video/").status_code == 302

"""The staff filmstrip of a video: frames with scores, flags, clusters, candidates; ground truth
beside the posted thumbnail. Staff only, images included."""

import cv2
import pytest

from curation.models import Frame, ThumbnailTruth, Video
from curation.services.ingest import video_ingest
from tests.fixtures.framesets import textured

pytestmark = pytest.mark.django_db


@pytest.fixture
def video(dataset, write_manifest, make_clip, media_dir):
    thumb = media_dir / "thumb.jpg"
    cv2.imwrite(str(thumb), cv2.cvtColor(textured(1), cv2.COLOR_RGB2BGR))
    clip = make_clip("clip.mp4", seconds=3.0, audio=False, text="<b>hi</b>")
    rows = [{"video": str(clip), "id": "<i>clip</i>", "thumbnail": str(thumb)}]
    assert video_ingest(dataset=dataset, path=write_manifest(rows), pipeline="inline").errors == []
    return Video.objects.get()


def test_the_curator_sees_every_frame_with_scores_flags_clusters_and_the_ground_truth(client, curator, video):
    client.login(username="curator", password="pw-curator")
    page = client.get(f"/videos/{video.id}/frames/").content.decode()

    frames = list(Frame.objects.filter(video=video).order_by("index"))
    assert len(frames) == 3
    for frame in frames:
        assert f'id="frame-{frame.index}"' in page and f"/frames/{frame.id}.jpg" in page
        assert f"{frame.sharpness:.3f}" in page and f"{frame.brightness:.3f}" in page
    candidates = [f for f in frames if f.is_candidate]
    assert page.count('<span class="flag candidate">candidate</span>') == len(candidates)
    truth = ThumbnailTruth.objects.get(video=video)
    assert f"/videos/{video.id}/thumbnail" in page
    assert f"similarity <strong>{truth.similarity:.3f}</strong>" in page
    assert "&lt;i&gt;clip&lt;/i&gt;" in page and "<i>clip</i>" not in page


def test_the_frame_and_thumbnail_images_are_served_to_staff(client, curator, video):
    client.login(username="curator", password="pw-curator")
    frame = Frame.objects.filter(video=video).first()

    response = client.get(f"/frames/{frame.id}.jpg")
    assert response.status_code == 200 and response["Content-Type"] == "image/jpeg"
    assert b"".join(response.streaming_content)[:2] == b"\xff\xd8"
    thumb = client.get(f"/videos/{video.id}/thumbnail")
    assert thumb.status_code == 200 and thumb["Content-Type"] == "image/jpeg"


def test_a_thumbnail_that_is_html_is_served_as_bytes_not_as_a_page(
    client, curator, dataset, write_manifest, media_dir, make_clip
):
    fake = media_dir / "thumb.html"
    fake.write_text("<script>alert(1)</script>")
    rows = [{"video": str(make_clip("c.mp4", seconds=1.0, audio=False)), "id": "c", "thumbnail": str(fake)}]
    video_ingest(dataset=dataset, path=write_manifest(rows), pipeline="inline")
    video = Video.objects.get()
    client.login(username="curator", password="pw-curator")

    response = client.get(f"/videos/{video.id}/thumbnail")
    assert response["Content-Type"] == "application/octet-stream"
    assert response["X-Content-Type-Options"] == "nosniff"
    page = client.get(f"/videos/{video.id}/frames/").content.decode()
    assert "No ground truth: thumbnail is not an image" in page


@pytest.mark.parametrize("persona", ["worker1", "outsider"])
def test_people_who_are_not_staff_get_neither_the_page_nor_the_images(client, request, video, persona):
    request.getfixturevalue(persona)
    client.login(username=persona, password=f"pw-{persona}")
    frame = Frame.objects.filter(video=video).first()

    for url in (f"/videos/{video.id}/frames/", f"/frames/{frame.id}.jpg", f"/videos/{video.id}/thumbnail"):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_the_video_admin_links_to_the_filmstrip(client, curator, video):
    client.login(username="curator", password="pw-curator")
    listing = client.get("/admin/curation/video/").content.decode()
    change = client.get(f"/admin/curation/video/{video.id}/change/").content.decode()
    assert f'href="/videos/{video.id}/frames/"' in listing and f'href="/videos/{video.id}/frames/"' in change


def test_an_unknown_video_is_a_404(client, curator, db):
    client.login(username="curator", password="pw-curator")
    assert client.get("/videos/999999/frames/").status_code == 404

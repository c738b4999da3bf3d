"""The staff filmstrip in a real headless Chromium: every frame image and the posted thumbnail
load, flags and the ground truth are visible. Screenshot: MICROCURATE_VAR_DIR/e2e/filmstrip.png."""

import cv2
import pytest

from curation.lib.synth import story_clip
from curation.models import Frame, Video
from curation.services.ingest import video_ingest
from tests.e2e.test_annotation_browser import browser, screenshots  # noqa: F401
from tests.fixtures.framesets import darken, flat, textured

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_curator_sees_the_filmstrip_with_every_image_loaded(
    browser,  # noqa: F811
    screenshots,  # noqa: F811
    live_server,
    curator,
    dataset,
    write_manifest,
    media_dir,
):
    scene = textured(2)
    clip = story_clip(
        media_dir / "story.mp4", [(scene, 2.0), (darken(scene, 0.1), 1.0), (flat(3), 1.0)], fps=5
    )
    thumb = media_dir / "thumb.jpg"
    cv2.imwrite(str(thumb), cv2.cvtColor(scene, cv2.COLOR_RGB2BGR))
    rows = [{"video": str(clip), "id": "story", "thumbnail": str(thumb)}]
    assert video_ingest(dataset=dataset, path=write_manifest(rows), pipeline="inline").errors == []
    video = Video.objects.get()
    frames = Frame.objects.filter(video=video).count()

    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    page.goto(f"{live_server.url}/accounts/login/?next=/videos/{video.id}/frames/")
    page.fill("input[name=username]", "curator")
    page.fill("input[name=password]", "pw-curator")
    page.click("button[type=submit]")
    page.wait_for_selector(".filmstrip")
    page.wait_for_load_state("networkidle")
    page.evaluate("document.querySelectorAll('img[loading=lazy]').forEach(i => i.loading = 'eager')")
    page.wait_for_function("[...document.images].every(i => i.complete)")
    page.screenshot(path=str(screenshots / "filmstrip.png"), full_page=True)

    loaded = page.evaluate("[...document.images].map(i => [i.alt, i.naturalWidth])")
    assert len(loaded) == frames + 2  # the frames, the posted thumbnail, the ground-truth frame
    assert all(width > 0 for _, width in loaded), loaded
    assert page.locator(".flag.dark").count() == 1 and page.locator(".flag.uniform").count() >= 1
    assert page.locator(".frame.truth .flag.truth").count() == 1
    assert "needs a human check" not in page.content()

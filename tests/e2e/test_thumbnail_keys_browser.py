"""A thumbnail task with more candidates than number keys, in a real headless Chromium: every
frame shows its key (1-9, 0, then letters), a letter picks the frame it labels, and candidates
are at least 240 px wide."""

import pytest

from annotator.models import Answer
from annotator.services.creation import tasks_create
from curation.models import Frame
from tests.e2e.test_annotation_browser import browser, log_in, screenshots, wait_count  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_twelfth_candidate_is_picked_with_the_key_written_on_it(
    browser,  # noqa: F811 (the fixture, imported above)
    live_server,
    screenshots,  # noqa: F811
    dataset,
    worker1,
    ready_video,
    with_frames,
):
    video = ready_video()
    frames = with_frames(video, count=6)  # (its pictures are shades of grey: six at most)
    for index in range(6, 12):  # six more candidates showing the same pictures
        model = frames[index - 6]
        frames.append(
            Frame.objects.create(
                video=video, index=index, timestamp=float(index), image=model.image, width=160, height=90,
                brightness=0.5, sharpness=1.0, entropy=5.0, spread=0.5, descriptor=b"", cluster=index,
                is_candidate=True,
            )
        )  # fmt: skip
    assert tasks_create(dataset=dataset, kind="thumbnail").created == 1

    page = log_in(browser, live_server, "worker1", "/work/%3Fkind%3Dthumbnail")
    page.wait_for_selector("#grid:not([hidden]) .frame img")
    labels = page.eval_on_selector_all("#grid .frame kbd", "keys => keys.map(k => k.textContent)")
    assert labels == ["1", "2", "3", "4", "5", "6", "7", "8", "9", "0", "A", "B"]
    widths = page.eval_on_selector_all("#grid .frame", "fs => fs.map(f => f.getBoundingClientRect().width)")
    assert min(widths) >= 240, widths
    page.screenshot(path=str(screenshots / "thumbnail-task-12.png"), full_page=True)

    page.keyboard.press("b")
    wait_count(page, 1)
    assert Answer.objects.get(worker=worker1).frame_id == frames[11].id

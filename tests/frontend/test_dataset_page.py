"""The staff dataset page's shell (issue 18): who may open it, what it says to the ES module that
fills it (data attributes, section ids, action control ids), and the home page's links to it."""

import re

import pytest

from curation.services.datasets import dataset_create

pytestmark = pytest.mark.django_db

SECTIONS = ("pipeline", "annotation", "quality", "thumbnails", "frames", "models", "actions")
ACTION_IDS = (
    "action-ingest-file", "action-ingest", "action-ingest-confirm", "action-ingest-cancel",
    "action-ingest-status",
    "action-create-tasks-kind", "action-create-tasks-order", "action-create-tasks", "action-aggregate-method",
    "action-aggregate",
    "action-make-split-name", "action-make-split-ratios", "action-make-split-freeze", "action-make-split",
    "action-freeze-split-name", "action-freeze-split", "action-compare-old", "action-compare-new",
    "action-compare",
    "split-diff", "action-train-split", "action-train", "action-score-model", "action-score",
    "action-export-format", "action-export-split", "action-export", "action-export-confirm", "export-links",
    "recent-actions", "running-actions",
)  # fmt: skip


@pytest.fixture
def page(client, curator):
    dataset_create(slug="birds", name="Birds <b>of</b> prey")
    client.login(username="curator", password="pw-curator")
    return client


def test_an_anonymous_visitor_is_sent_to_log_in(client):
    dataset_create(slug="birds", name="Birds")
    response = client.get("/datasets/birds/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/datasets/birds/"


def test_a_crowdworker_is_refused_with_403(client, worker1):
    dataset_create(slug="birds", name="Birds")
    client.login(username="worker1", password="pw-worker1")
    assert client.get("/datasets/birds/").status_code == 403


def test_a_user_without_a_role_is_refused_with_403(client, outsider):
    dataset_create(slug="birds", name="Birds")
    client.login(username="outsider", password="pw-outsider")
    assert client.get("/datasets/birds/").status_code == 403


def test_an_unknown_dataset_is_404(page):
    assert page.get("/datasets/nope/").status_code == 404


def test_the_page_names_the_dataset_its_api_and_its_polling(page, settings):
    settings.MICROCURATE_MODELS_ENABLED = True
    html = page.get("/datasets/birds/").content.decode()
    assert "Birds &lt;b&gt;of&lt;/b&gt; prey" in html and "<b>of</b>" not in html
    root = re.search(r'<div id="dataset-page"[^>]*>', html).group(0)
    assert 'data-slug="birds"' in root and 'data-api="/api/v1/datasets/birds/"' in root
    assert 'data-poll-ms="10000"' in root and 'data-poll-busy-ms="2000"' in root
    assert 'data-models-enabled="1"' in root
    assert "frontend/js/dataset_page.js" in html and 'type="module"' in html


def test_every_section_and_action_control_has_its_stable_id(page, settings):
    settings.MICROCURATE_MODELS_ENABLED = True  # (the suite turns models off unless marked)
    html = page.get("/datasets/birds/").content.decode()
    for section in SECTIONS:
        assert f'<section id="{section}"' in html, section
    for section in SECTIONS[:-1]:
        assert f'data-section="{section}"' in html, section
    for control in ACTION_IDS:
        assert html.count(f'id="{control}"') == 1, control
    # Every export format of the API is offered.
    for fmt in ("jsonl", "csv", "mmaction", "webdataset", "parquet", "srt"):
        assert f'<option value="{fmt}">' in html


def test_a_test_can_shorten_the_polling_but_not_below_the_floor(page):
    shortened = page.get("/datasets/birds/?poll=500").content.decode()
    assert 'data-poll-ms="500" data-poll-busy-ms="500"' in shortened
    assert 'data-poll-ms="200"' in page.get("/datasets/birds/?poll=1").content.decode()
    assert 'data-poll-ms="10000"' in page.get("/datasets/birds/?poll=soon").content.decode()


def test_without_models_train_and_score_say_so_instead_of_offering_buttons(page, settings):
    settings.MICROCURATE_MODELS_ENABLED = False
    html = page.get("/datasets/birds/").content.decode()
    assert 'data-models-enabled="0"' in html
    assert 'id="action-train"' not in html and 'id="action-score"' not in html
    assert "Models are turned off on this server" in html


def test_the_home_page_links_each_dataset_to_its_page_and_offers_a_new_one(page):
    dataset_create(slug="cats", name="Cats")
    html = page.get("/").content.decode()
    assert 'href="/datasets/birds/"' in html and 'href="/datasets/cats/"' in html
    form = re.search(r'<form id="new-dataset"[^>]*>', html).group(0)
    assert 'data-api="/api/v1/datasets/"' in form and 'data-page="/datasets/SLUG/"' in form
    assert 'id="new-dataset-taxonomy"' in html and '<option value="usv">' in html
    assert "frontend/js/dataset/new_dataset.js" in html


def test_the_new_dataset_form_shows_on_an_empty_home_page(client, curator):
    client.login(username="curator", password="pw-curator")
    html = client.get("/").content.decode()
    assert "No datasets yet" in html and 'id="new-dataset"' in html

import pytest

from curation.services.datasets import dataset_create

pytestmark = pytest.mark.django_db


def test_anonymous_visitors_are_sent_to_the_login_page(client):
    response = client.get("/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    assert b"Log in" in client.get("/accounts/login/").content


def test_the_dashboard_shows_datasets_with_their_names_escaped(client, curator):
    dataset_create(slug="xss", name="<script>alert(1)</script>")
    client.login(username="curator", password="pw-curator")
    page = client.get("/").content.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>alert(1)" not in page


def test_a_crowdworker_goes_straight_to_the_task_page_not_the_dashboard(client, worker1, dataset):
    client.login(username="worker1", password="pw-worker1")
    page = client.get("/").content.decode()
    assert 'id="annotate"' in page and "frontend/js/annotate.js" in page and dataset.name not in page


def test_a_user_without_a_role_gets_no_task_page(client, outsider):
    client.login(username="outsider", password="pw-outsider")
    assert "not a crowdworker account" in client.get("/").content.decode()
    assert client.get("/work/").status_code == 403

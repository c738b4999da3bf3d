"""Errors become HTTP in one place (config/exception_handlers.py): views do not catch domain
errors, and a database that cannot be reached answers 503 with Retry-After everywhere."""

import pytest
from django.db import OperationalError

from annotator.errors import AlreadyAnswered, InvalidAnswer, MediaLinkInvalid, NotYourAssignment, WorkerPaused
from config.exception_handlers import DATABASE_UNAVAILABLE, error_status
from curation.errors import CurationError, DatasetNotFound
from curation.services.exports import ExportError, ExportFileNotFound
from curation.services.splits import SplitNotFound, SplitRefused


def test_each_domain_error_answers_the_status_of_its_nearest_class():
    assert error_status(CurationError("x")) == 400
    assert error_status(SplitRefused("x")) == 400
    assert error_status(ExportError("x")) == 400
    assert error_status(DatasetNotFound("x")) == 404
    assert error_status(SplitNotFound("x")) == 404
    assert error_status(ExportFileNotFound("x")) == 404
    assert error_status(InvalidAnswer("x")) == 400
    assert error_status(NotYourAssignment("x")) == 404
    assert error_status(WorkerPaused("x")) == 403
    assert error_status(MediaLinkInvalid("x")) == 403
    assert error_status(AlreadyAnswered("x")) == 409
    assert error_status(ValueError("x")) is None


@pytest.mark.django_db
def test_a_missing_split_is_404_and_a_refused_one_400_over_the_api(client, curator, dataset):
    client.force_login(curator)

    missing = client.get(f"/api/v1/datasets/{dataset.slug}/splits/v9/")
    refused = client.post(
        f"/api/v1/datasets/{dataset.slug}/splits/",
        {"name": "v1", "ratios": "0.8,x"},
        content_type="application/json",
    )

    assert missing.status_code == 404
    assert missing.json() == {"detail": "dataset usv-sample has no split named 'v9' (splits: none yet)"}
    assert refused.status_code == 400 and "is not a number" in refused.json()["detail"]


@pytest.mark.django_db
def test_an_unreachable_database_answers_503_with_retry_after_on_api_views_and_pages(
    client, curator, monkeypatch
):
    client.force_login(curator)

    def unreachable(*args, **kwargs):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr("curation.selectors.dataset_list", unreachable)
    api = client.get("/api/v1/datasets/", HTTP_ACCEPT="text/html")
    page = client.get("/")

    assert (api.status_code, api["Retry-After"], api.json()) == (503, "5", {"detail": DATABASE_UNAVAILABLE})
    assert (page.status_code, page["Retry-After"], page.content.decode()) == (503, "5", DATABASE_UNAVAILABLE)

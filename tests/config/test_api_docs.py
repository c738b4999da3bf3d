"""The OpenAPI schema and Swagger UI map every endpoint: staff only unless
MICROCURATE_API_DOCS_PUBLIC is on (issue 13, item 8)."""

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def test_staff_read_the_openapi_schema_and_docs(client, curator):
    client.force_login(curator)

    schema = client.get("/api/schema/")
    docs = client.get("/api/docs/")

    assert schema.status_code == 200 and b"/api/v1/datasets/{slug}/ingest/" in schema.content
    assert docs.status_code == 200 and b"swagger-ui" in docs.content


@pytest.mark.parametrize("persona", [None, "worker1", "outsider"])
def test_anonymous_visitors_crowdworkers_and_outsiders_get_no_schema_or_docs(request, persona):
    client = Client()
    if persona:
        client.force_login(request.getfixturevalue(persona))

    schema = client.get("/api/schema/")
    docs = client.get("/api/docs/")

    assert (schema.status_code, docs.status_code) == ((401, 401) if persona is None else (403, 403))
    assert b"/api/v1/datasets/" not in schema.content + docs.content


def test_the_setting_makes_them_public(settings, client):
    settings.MICROCURATE_API_DOCS_PUBLIC = True

    assert client.get("/api/schema/").status_code == 200
    assert client.get("/api/docs/").status_code == 200

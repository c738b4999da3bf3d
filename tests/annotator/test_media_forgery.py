"""A media link signed offline with the old default SECRET_KEY ("insecure-dev-key-" + the
checkout's path, issue 13 item 6) is refused: the key is now random (config/secret_key.py)."""

import pytest
from django.core import signing
from django.test import Client

from annotator.media_links import SALT
from annotator.services.creation import tasks_create
from tests.conftest import ROOT

pytestmark = pytest.mark.django_db
API = "/api/v1/annotation"


def test_a_media_link_signed_with_the_old_path_derived_key_is_refused(worker1, dataset, ready_video):
    ready_video()
    tasks_create(dataset=dataset, kind="topic")
    client = Client()
    assert client.login(username="worker1", password="pw-worker1")
    task = client.post(f"{API}/next/", {}, content_type="application/json").json()
    claims = signing.loads(task["video_url"].split("/")[-2], salt=SALT)

    forged = signing.dumps(claims, key="insecure-dev-key-" + str(ROOT), salt=SALT, compress=True)
    refused = client.get(f"{API}/media/{forged}/")

    assert client.get(task["video_url"]).status_code == 200  # the same claims, signed by the server
    assert refused.status_code == 403 and b"not valid" in refused.content

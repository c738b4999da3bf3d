"""The staff quality page: estimates with intervals, the extrapolation, agreement, disputes."""

import pytest

from curation.services.labels.verdicts import verdicts_aggregate
from tests.curation.labels_helpers import make_videos

pytestmark = pytest.mark.django_db


def test_the_quality_page_shows_estimates_agreement_and_disputed_videos_escaped(client, curator, dataset):
    videos = make_videos(dataset, 12)
    videos[1].title = "<script>alert('t')</script>"
    videos[1].save()
    rows = []
    for i, video in enumerate(videos[:10]):  # two videos stay unverified
        first, second = [("no", "no"), ("yes", "no"), ("yes", "yes"), ("yes", "yes")][i % 4]
        rows += [(video.id, "user:1", first, ""), (video.id, "user:2", second, "")]
    verdicts_aggregate(dataset=dataset, rows=rows)
    client.force_login(curator)

    page = client.get("/quality/").content.decode()

    assert "Noise: <strong>0.429</strong> (3 of 7 judged videos), 95 % CI" in page
    assert "of the 2 unverified videos are probably noise, 95 % CI" in page
    assert "Cohen's κ" in page and "Macro topics" in page and "Topics" in page
    assert "&lt;script&gt;alert(&#x27;t&#x27;)&lt;/script&gt;" in page and "<script>alert" not in page
    assert "no 1, yes 1" in page and "disagreement" in page


def test_the_quality_page_is_for_staff_only_and_says_when_nothing_was_aggregated(
    client, worker1, curator, dataset
):
    client.force_login(worker1)
    assert client.get("/quality/").status_code == 302
    client.force_login(curator)
    assert "No dataset has been aggregated yet" in client.get("/quality/").content.decode()

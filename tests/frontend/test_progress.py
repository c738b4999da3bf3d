import pytest

from annotator.services.answers import answer_submit
from annotator.services.assignment import assignment_next
from annotator.services.creation import tasks_create
from curation.models import Topic

pytestmark = pytest.mark.django_db


def test_the_progress_page_shows_answers_verdicts_and_workers_with_names_escaped(
    client, curator, worker1, worker2, dataset, ready_video
):
    dataset.name = "<script>alert('ds')</script>"
    dataset.save()
    ready_video(topic=Topic.objects.filter(dataset=dataset).first())
    ready_video()
    tasks_create(dataset=dataset, kind="topic")
    for worker in (worker1, worker2):
        answer_submit(worker=worker, assignment_id=assignment_next(worker=worker).id, choice="no")
    client.login(username="curator", password="pw-curator")

    page = client.get("/progress/").content.decode()

    assert "&lt;script&gt;alert(&#x27;ds&#x27;)&lt;/script&gt;" in page and "<script>alert" not in page
    assert "2 / 4" in page and "noise 1" in page and "pending 1" in page
    assert "worker1" in page and "worker2" in page


def test_the_progress_page_is_for_staff_only(client, worker1):
    client.login(username="worker1", password="pw-worker1")
    assert client.get("/progress/").status_code == 302


def test_progress_quality_and_aggregate_show_the_same_verdict_counts_with_unfinished_tasks_pending(
    client, curator, worker1, worker2, dataset, ready_video
):
    """Issue 17: /progress/ said 7 verified while `aggregate` and /quality/ said 9."""
    from annotator.services.aggregation import dataset_aggregate

    for _ in range(3):
        ready_video()
    tasks_create(dataset=dataset, kind="topic")
    for worker, answers in ((worker1, 3), (worker2, 1)):  # two videos keep one answer of two
        for _ in range(answers):
            answer_submit(worker=worker, assignment_id=assignment_next(worker=worker).id, choice="yes")
    summary = dataset_aggregate(dataset=dataset)
    client.force_login(curator)

    expected = "verified 1, noise 0, disagreement 0, unsure 0, pending 2."
    assert summary.verdicts == {"verified": 1, "noise": 0, "disagreement": 0, "unsure": 0, "pending": 2}
    assert expected in client.get("/progress/").content.decode()
    assert expected in client.get("/quality/").content.decode()

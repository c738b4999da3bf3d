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

import pytest

from annotator.models import AnnotatorProfile, Task
from curation.models import Dataset

pytestmark = pytest.mark.django_db


def test_staff_create_tasks_from_the_dataset_admin_action(client, curator, dataset, ready_video):
    for _ in range(2):
        ready_video()
    client.login(username="curator", password="pw-curator")

    response = client.post(
        "/admin/curation/dataset/",
        {"action": "create_topic_tasks", "_selected_action": [dataset.id]},
        follow=True,
    )

    assert "2 new topic tasks" in response.content.decode()
    assert Task.objects.filter(dataset=dataset, kind="topic").count() == 2
    assert Dataset.objects.count() == 1


def test_staff_pause_a_worker_from_the_admin(client, curator, worker1):
    profile = AnnotatorProfile.objects.create(user=worker1)
    client.login(username="curator", password="pw-curator")

    client.post("/admin/annotator/annotatorprofile/", {"action": "pause", "_selected_action": [profile.id]})

    profile.refresh_from_db()
    assert profile.is_paused

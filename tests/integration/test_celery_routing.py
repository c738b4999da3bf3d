"""Each stage's task reaches only its own queue on the real Redis broker."""

import pytest

from config.celery import app
from curation import tasks


def test_each_stage_task_lands_only_in_the_queue_it_is_routed_to(settings):
    if not settings.CELERY_BROKER_URL.startswith("redis://"):
        pytest.fail("needs CELERY_BROKER_URL=redis://… (make test sets it)")
    url = settings.CELERY_BROKER_URL.rsplit("/", 1)[0] + "/9"  # a database no worker reads
    with app.connection_for_write(url) as connection:
        channel = connection.default_channel
        channel.client.flushdb()
        for queue in app.amqp.queues.values():
            queue(channel).declare()
        tasks.video_probe_task.apply_async(args=[0], connection=connection)
        tasks.video_ocr_task.apply_async(args=[0], connection=connection)
        counts = {name: channel.client.llen(name) for name in ("media", "ocr", "ml")}  # a list per queue
        channel.client.flushdb()
    assert counts == {"media": 1, "ocr": 1, "ml": 0}

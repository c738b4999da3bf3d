"""Every verification order keeps the lease query's guarantees: workers leasing at once never get
one slot twice nor one task twice, and the query still reads its slots in priority order from the
index (no sort), whatever order set the priorities."""

import re
import threading
from collections import Counter

import pytest
from django.db import connection
from django.utils import timezone

from annotator.models import Assignment, Task
from annotator.queries.leasing import _OPEN_SLOT
from annotator.services.answers import answer_submit
from annotator.services.assignment import assignment_offer
from annotator.services.creation import tasks_create
from curation.models import Video
from tests.annotator.model_scores import scored_run

pytestmark = pytest.mark.django_db(transaction=True)
ORDERS = ["random", "likely_noise", "uncertain", "hard_negatives"]
VIDEOS = 16
WORKERS = 6


@pytest.fixture
def ordered_tasks(dataset, ready_video):
    """A round of VIDEOS topic tasks in `order`; the model scores each video's weak topic low to
    high and the next topic high enough to be a hard negative."""

    def make(order: str) -> None:
        dataset.settings = {"annotation": {"gold_first": 0, "gold_rate": 0}}
        dataset.save()
        topics = list(dataset.topics.order_by("id")[:2])
        videos = [ready_video(topic=topics[0]) for _ in range(VIDEOS)]
        scored_run(
            dataset,
            {v: (i + 0.5) / (2 * VIDEOS) for i, v in enumerate(videos)},
            tops={v: (topics[1], 0.6) for v in videos},
        )
        summary = tasks_create(dataset=dataset, kind="topic", order=order)
        assert summary.created == VIDEOS and set(Task.objects.values_list("selected_by", flat=True)) == {
            order
        }

    return make


@pytest.mark.parametrize("order", ORDERS)
def test_workers_leasing_at_once_never_share_a_slot_or_see_a_task_twice(order, dataset, ordered_tasks, crowd):
    ordered_tasks(order)
    workers = crowd(WORKERS)
    leased = []  # (slot, task, worker) for every lease handed out
    problems = []
    lock = threading.Lock()
    start = threading.Barrier(WORKERS)

    def work(worker) -> None:
        try:
            start.wait()
            while (offer := assignment_offer(worker=worker, dataset=dataset, kind="topic")) is not None:
                slot = offer.assignment
                with lock:
                    leased.append((slot.id, slot.task_id, worker.id))
                answer_submit(worker=worker, assignment_id=slot.id, choice="yes")
        except Exception as exc:  # reported below with the worker's name, never swallowed
            with lock:
                problems.append((worker.username, repr(exc)))
        finally:
            connection.close()  # this thread's own connection

    threads = [threading.Thread(target=work, args=(worker,)) for worker in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert problems == []
    slots = set(Assignment.objects.values_list("id", flat=True))
    assert len(slots) == 2 * VIDEOS
    assert sorted(slot for slot, _, _ in leased) == sorted(slots)  # every slot leased once, none twice
    per_worker_task = Counter((task, worker) for _, task, worker in leased)
    assert max(per_worker_task.values()) == 1
    assert len({worker for _, _, worker in leased}) > 1  # they did lease at the same time
    assert set(Task.objects.values_list("answered", flat=True)) == {2}


def test_the_lease_query_reads_slots_in_priority_order_from_the_index_with_every_order(dataset, worker1):
    """2,000 videos, rounds of tasks in every order (4,000 weak-topic slots, 4,000 hard-negative
    slots): the slot is still read from the open-slot index in priority order, no sort."""
    topics = list(dataset.topics.order_by("id")[:2])
    videos = Video.objects.bulk_create(
        Video(dataset=dataset, external_id=f"v{i}", source=f"/v{i}.mp4", source_kind="file",
              weak_topic=topics[0], proxy_status="done", proxy_path=f"proxies/{i}.mp4")
        for i in range(2000)
    )  # fmt: skip
    scored_run(
        dataset, {v: (i % 97) / 97 for i, v in enumerate(videos)}, tops={v: (topics[1], 0.6) for v in videos}
    )
    for order in ("random", "likely_noise", "uncertain"):
        assert tasks_create(dataset=dataset, kind="topic", order=order, limit=500).created == 500
    assert tasks_create(dataset=dataset, kind="topic", order="hard_negatives").created == 2000
    statement = _OPEN_SLOT.format(filters="AND a.dataset_id = %(dataset)s AND a.kind = %(kind)s")
    params = {"now": timezone.now(), "worker": worker1.id, "dataset": dataset.id, "kind": "topic"}

    with connection.cursor() as cursor:
        # Fresh statistics, as autovacuum keeps them on a live server.
        for model in (Video, Task, Assignment):
            cursor.execute(f"ANALYZE {model._meta.db_table}")
        cursor.execute(f"EXPLAIN (ANALYZE, TIMING OFF) {statement}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())

    slot_scan = next(line for line in plan.splitlines() if "on annotator_assignment a " in line)
    # Either partial index of open slots is in the order of ORDER BY a.priority DESC, a.id (with
    # one dataset, the planner may take the one across datasets): the walk stops at the first slot.
    assert re.search(r"Index Scan using assignment_open_(in_dataset|anywhere) on", slot_scan), plan
    assert re.search(r"actual rows=1(\.00)? loops=1\)", slot_scan), plan
    assert "Sort Key: a.priority" not in plan, plan
    assert "ORDER BY a.priority DESC, a.id" in statement

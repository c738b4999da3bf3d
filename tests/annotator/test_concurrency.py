"""50 simulated crowdworkers against a real server (gunicorn) on PostgreSQL, each with its own API token:
every task ends with exactly N distinct answers, nobody answers a task twice, no accepted
answer is lost and no slot is ever leased to two workers at once. A few workers take a task
and vanish; their leases expire and the slots go back to the pool."""

import json
import threading
import time
import urllib.error
import urllib.request
from collections import Counter, defaultdict
from datetime import datetime, timedelta

import pytest
from django.db import connection
from rest_framework.authtoken.models import Token

from annotator.models import Answer, Assignment, Task
from annotator.services.creation import task_make_gold, tasks_create

pytestmark = pytest.mark.django_db(transaction=True)
WORKERS = 50
VANISHING = 5
TASKS = 60
GOLD = 3
LEASE_SECONDS = 10


def call(url: str, token: str, body: dict | None = None) -> tuple[int, dict | None]:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Token {token}", "Content-Type": "application/json"},
        method="POST" if body is not None else "GET",
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            raw = response.read()
            return response.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def test_fifty_workers_at_once_fill_every_task_exactly_once_per_slot(api_server, dataset, ready_video, crowd):
    dataset.settings = {"annotation": {"lease_seconds": LEASE_SECONDS, "gold_first": 0, "gold_rate": 0.2}}
    dataset.save()
    for _ in range(TASKS + GOLD):
        ready_video()
    tasks_create(dataset=dataset, kind="topic")
    gold_ids = []
    for task in Task.objects.order_by("id")[:GOLD]:
        gold_ids.append(task_make_gold(task=task, answer="yes").id)
    tokens = [Token.objects.create(user=user).key for user in crowd(WORKERS)]
    api = f"{api_server}/api/v1/annotation"

    handed_out = []  # (assignment, worker, lease expiry) for every lease the server gave
    accepted = []  # (assignment, worker) for every answer the server accepted
    problems = []
    lock = threading.Lock()
    start = threading.Barrier(WORKERS)

    def work(number: int, token: str) -> None:
        try:
            run(number, token)
        finally:
            connection.close()  # this thread's own database connection (the check below)

    def run(number: int, token: str) -> None:
        start.wait()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            status, task = call(f"{api}/next/", token, {"dataset": dataset.slug})
            if status == 204:
                if not Task.objects.filter(is_gold=False, verdict="pending").exists():
                    return
                time.sleep(0.5)  # vanished workers' leases have yet to expire
                continue
            if status != 200:
                with lock:
                    problems.append(("next", status, task))
                return
            with lock:
                handed_out.append((task["id"], number, datetime.fromisoformat(task["lease_expires_at"])))
            if number < VANISHING:
                return  # takes a task and is never seen again
            choice = "no" if (task["id"] + number) % 3 == 0 else "yes"
            status, body = call(f"{api}/assignments/{task['id']}/answer/", token, {"choice": choice})
            with lock:
                if status == 201:
                    accepted.append((task["id"], number))
                else:
                    problems.append(("answer", status, body))

    threads = [threading.Thread(target=work, args=(i, token)) for i, token in enumerate(tokens)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=180)

    assert not problems
    regular = Task.objects.filter(is_gold=False)
    assert regular.count() == TASKS
    for task in regular:
        workers = list(task.answers.values_list("worker_id", flat=True))
        assert len(workers) == len(set(workers)) == task.needed == 2, task
        assert task.verdict != "pending"
    # Every accepted answer is stored, and nothing else is.
    stored = set(Answer.objects.values_list("assignment_id", "worker__username"))
    assert stored == {(assignment, f"crowd{number + 1}") for assignment, number in accepted}
    assert len(accepted) == Answer.objects.count()
    # Gold tasks (mixed in at a 20 % rate): each worker answered each at most once.
    gold_answers = Counter(Answer.objects.filter(task_id__in=gold_ids).values_list("task_id", "worker_id"))
    assert gold_answers and max(gold_answers.values()) == 1
    # A slot handed to two workers only after the first lease had expired.
    by_slot = defaultdict(list)
    for assignment, number, expires in handed_out:
        by_slot[assignment].append((expires - timedelta(seconds=LEASE_SECONDS), expires, number))
    for leases in by_slot.values():
        leases.sort()
        for (_, first_end, first), (second_start, _, second) in zip(leases, leases[1:], strict=False):
            assert first == second or second_start >= first_end, leases
    # The vanished workers' regular slots were taken over after their leases expired.
    vanished = [a for a, number, _ in handed_out if number < VANISHING]
    regular_vanished = set(
        Assignment.objects.filter(id__in=vanished, is_gold=False).values_list("id", flat=True)
    )
    assert regular_vanished
    for assignment in regular_vanished:
        assert {number for _, _, number in by_slot[assignment]} - set(range(VANISHING)), by_slot[assignment]
    assert not Assignment.objects.filter(
        state="open", is_gold=False, worker__isnull=False, task__verdict="pending"
    )

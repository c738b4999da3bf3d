"""The annotation API cycle (POST next + POST answer) at 1, 10 and 50 concurrent clients against
a real server (gunicorn, 2 processes × 25 threads, persistent database connections) on
PostgreSQL: p50/p95/p99 cycle latency, cycles per second, double assignments.

Each client is its own crowdworker with an API token and a keep-alive HTTP connection. A
double assignment is an open slot handed to two workers, or a task with more answers than it
needs; both are checked from what the clients saw and from the database afterwards.

CPU per cycle at each level (the gunicorn processes, and this database's PostgreSQL backends,
read from /proc) says what a cycle costs whatever else the shared machine runs; a warm-up round
first takes every server process past its first requests.

Baseline in the same run: the naive way (no row locks: pick the first task with fewer answers
than needed that this worker has not answered, then insert the answer), as many annotation
tools do, with 10 and 50 threads straight on the database. Reference from the issue: Label
Studio 1.23 on PostgreSQL on this machine.
"""

import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.procstat import cpu_seconds, wait_listening  # noqa: E402 (run directly too)

LEVELS = [int(n) for n in os.environ.get("BENCH_ANNOTATION_CLIENTS", "1,10,50").split(",")]
SECONDS = float(os.environ.get("BENCH_ANNOTATION_SECONDS", 12))
VIDEOS = int(os.environ.get("BENCH_ANNOTATION_VIDEOS", 6000))
WORKERS = int(os.environ.get("BENCH_ANNOTATION_WORKERS", 2))
THREADS = int(os.environ.get("BENCH_ANNOTATION_THREADS", 25))
LABEL_STUDIO = {
    "1": {"p50_ms": 480, "cycles_per_s": 2.07},
    "10": {"cycles_per_s": 3.32, "p95_ms": 3600},
    "50": {"cycles_per_s": 2.66, "p50_ms": 17000, "p99_ms": 30000},
    "sqlite_double_assigned": "12 of 52 tasks at 10 clients, plus an HTTP 500",
}


def _django():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()


def _setup(stamp: str) -> tuple[int, str, dict[str, str]]:
    """A dataset of VIDEOS pipeline-done videos with topic tasks, and 50 workers with tokens."""
    names = [f"bench-{stamp}-c{level}-{n}" for level in LEVELS for n in range(level)]
    names += [f"bench-{stamp}-warm-{n}" for n in range(max(LEVELS))]  # the warm-up round's own workers
    dataset, tokens = annotation_dataset(f"bench-annotation-{stamp}", videos=VIDEOS, usernames=names)
    return dataset.id, dataset.slug, tokens


def annotation_dataset(slug: str, *, videos: int, usernames: list[str]):
    """A dataset of `videos` pipeline-done videos with topic tasks (no gold), and crowdworkers
    with API tokens: (dataset, {username: token}). Used by the soak too."""
    from django.contrib.auth.models import Group, User
    from django.db import connection
    from rest_framework.authtoken.models import Token

    from annotator.services.creation import tasks_create
    from curation.models import Video
    from curation.services.datasets import dataset_create

    dataset = dataset_create(slug=slug, name="annotation benchmark", taxonomy="usv")
    dataset.settings = {"annotation": {"gold_first": 0, "gold_rate": 0.0}}
    dataset.save()
    topics = list(dataset.topics.order_by("id"))
    Video.objects.bulk_create(
        Video(
            dataset=dataset, external_id=f"b{i}", source=f"https://cdn.example.com/{i}.mp4",
            source_kind="url",
            title=f"clip {i}", weak_topic=topics[i % len(topics)], probe_status="done", frames_status="done",
            proxy_status="done", proxy_path=f"proxies/bench/{i}.mp4", has_audio=True,
        )
        for i in range(videos)
    )  # fmt: skip
    tasks_create(dataset=dataset, kind="topic")
    # Fresh planner statistics for the rows just loaded, as autovacuum would gather them (it is
    # off on this machine's PostgreSQL): without them the lease query may be planned blind.
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE annotator_assignment, annotator_task, curation_video")
    group, _ = Group.objects.get_or_create(name="crowdworkers")
    tokens = {}
    for name in usernames:
        user = User.objects.create_user(name)
        user.groups.add(group)
        tokens[user.username] = Token.objects.create(user=user).key
    return dataset, tokens


def start_server(
    port: int, *, env: dict[str, str] | None = None, workers: int = WORKERS, threads: int = THREADS, log=None
) -> subprocess.Popen:
    """The app served as in production (gunicorn, threads, persistent database connections) on
    127.0.0.1:`port`; `env` adds to this process's environment (the soak and the database-restart
    test serve their own database). `log`: a file for the server's output."""
    defaults = {"DATABASE_CONN_MAX_AGE": "60", "MICROCURATE_SUBMIT_RATE": "1000000/min"}
    env = {**os.environ, **defaults, **(env or {})}
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "config.wsgi", "--bind", f"127.0.0.1:{port}",
         "--workers", str(workers), "--threads", str(threads), "--worker-class", "gthread",
         "--backlog", "512", "--keep-alive", "120", "--log-level", "warning"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT if log else None,
    )  # fmt: skip
    return wait_listening(process, port, name="gunicorn", seconds=30)


def _cpu(server: subprocess.Popen) -> dict[str, dict[int, float]]:
    """CPU seconds of the gunicorn processes and of this database's PostgreSQL backends: CPU
    per cycle does not depend on what else the shared machine runs, unlike latency."""
    from django.db import connection

    children = [int(p) for p in os.listdir("/proc") if p.isdigit() and _parent(int(p)) == server.pid]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        backends = [pid for (pid,) in cursor.fetchall()]
    return {
        "server": {pid: cpu_seconds(pid) or 0.0 for pid in [server.pid, *children]},
        "postgres": {pid: cpu_seconds(pid) or 0.0 for pid in backends},
    }


def _parent(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (FileNotFoundError, IndexError, ValueError):
        return None


def _cpu_ms_per_cycle(before: dict, after: dict, cycles: int) -> dict[str, float]:
    used = {
        side: sum(seconds - before[side].get(pid, 0.0) for pid, seconds in after[side].items())
        for side in ("server", "postgres")
    }
    return {side: round(seconds / max(cycles, 1) * 1000, 1) for side, seconds in used.items()}


class Client:
    """One crowdworker's keep-alive connection; `response_headers`: those of the last response."""

    def __init__(self, port: int, token: str):
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        self.headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}
        self.response_headers = http.client.HTTPMessage()

    def post(self, path: str, body: dict) -> tuple[int, dict | None]:
        self.connection.request("POST", path, body=json.dumps(body), headers=self.headers)
        response = self.connection.getresponse()
        raw = response.read()
        self.response_headers = response.headers
        return response.status, (json.loads(raw) if raw else None)


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def _level(port: int, slug: str, tokens: list[str], seconds: float = SECONDS) -> dict:
    latencies: list[float] = []
    handed: dict[int, set[str]] = defaultdict(set)
    errors: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(len(tokens))
    stop_at = [0.0]

    def client(token: str) -> None:
        try:
            cycles(token)
        except Exception as exc:  # a dead client must not leave the others waiting at the barrier
            barrier.abort()
            with lock:
                errors.append(f"client: {exc!r}")

    def cycles(token: str) -> None:
        api = Client(port, token)
        api.post("/api/v1/annotation/next/", {"dataset": slug, "exclude": [0]})  # warm the connection
        barrier.wait(timeout=60)
        if not stop_at[0]:
            stop_at[0] = time.monotonic() + seconds
        while time.monotonic() < stop_at[0]:
            started = time.perf_counter()
            status, task = api.post("/api/v1/annotation/next/", {"dataset": slug})
            if status != 200:
                with lock:
                    errors.append(f"next {status} {task}")
                return
            status, body = api.post(f"/api/v1/annotation/assignments/{task['id']}/answer/", {"choice": "yes"})
            elapsed = time.perf_counter() - started
            with lock:
                handed[task["id"]].add(token)
                if status == 201:
                    latencies.append(elapsed)
                else:
                    errors.append(f"answer {status} {body}")

    threads = [threading.Thread(target=client, args=(token,)) for token in tokens]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.monotonic() - started
    return {
        "clients": len(tokens),
        "cycles": len(latencies),
        "cycles_per_s": round(len(latencies) / seconds, 1),
        "p50_ms": round(_percentile(latencies, 50) * 1000, 1),
        "p95_ms": round(_percentile(latencies, 95) * 1000, 1),
        "p99_ms": round(_percentile(latencies, 99) * 1000, 1),
        "double_assignments_seen": sum(len(workers) > 1 for workers in handed.values()),
        "errors": errors[:5],
        "error_count": len(errors),
        "wall_s": round(wall, 1),
    }


def _naive(dataset_id: int, threads: int, seconds: float, stamp: str) -> dict:
    """No locks: read the first unfinished task this worker has not answered, then answer it."""
    from django.contrib.auth.models import User
    from django.db import connection
    from django.db.models import Count, F

    from annotator.models import Answer, Task

    workers = [User.objects.create_user(f"bench-{stamp}-naive{threads}-{n}") for n in range(threads)]
    counts = []
    barrier = threading.Barrier(threads)

    def run(worker) -> None:
        done = 0
        barrier.wait()
        stop = time.monotonic() + seconds
        try:
            while time.monotonic() < stop:
                task = (
                    Task.objects.filter(dataset_id=dataset_id)
                    .annotate(n=Count("answers"))
                    .filter(n__lt=F("needed"))
                    .exclude(answers__worker=worker)
                    .order_by("-priority", "id")
                    .first()
                )
                if task is None:
                    break
                # The insert bypasses slots (as a tool without them would); the answer-once
                # constraint still holds, so only over-assignment can show up.
                Answer.objects.create(
                    task=task, assignment_id=_naive_slot(task, worker), worker=worker, choice="yes"
                )
                done += 1
        finally:
            counts.append(done)
            connection.close()

    pool = [threading.Thread(target=run, args=(w,)) for w in workers]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    over = (
        Task.objects.filter(dataset_id=dataset_id, answers__worker__in=workers)
        .annotate(n=Count("answers"))
        .filter(n__gt=F("needed"))
        .count()
    )
    return {"threads": threads, "cycles_per_s": round(sum(counts) / seconds, 1), "tasks_over_assigned": over}


def _naive_slot(task, worker) -> int:
    from annotator.models import Assignment

    return Assignment.objects.create(
        task=task, dataset_id=task.dataset_id, kind=task.kind, state="answered", worker=worker,
        leased_at="2000-01-01T00:00:00Z", lease_expires_at="2000-01-01T00:00:00Z",
    ).id  # fmt: skip


def _database_check(dataset_id: int) -> dict:
    from django.db.models import Count, F

    from annotator.models import Answer, Task

    over = (
        Task.objects.filter(dataset_id=dataset_id)
        .annotate(n=Count("answers"))
        .filter(n__gt=F("needed"))
        .count()
    )
    twice = (
        Answer.objects.filter(task__dataset_id=dataset_id)
        .values("task_id", "worker_id")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
        .count()
    )
    return {"tasks_over_assigned": over, "worker_answered_twice": twice, "answers": Answer.objects.filter(
        task__dataset_id=dataset_id).count()}  # fmt: skip


def run() -> dict:
    from bench import label_studio  # here: it imports this module

    subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "migrate", "--no-input", "-v0"], cwd=ROOT, check=True
    )
    _django()
    from curation.models import Dataset

    stamp = time.strftime("%H%M%S")
    dataset_id, slug, tokens = _setup(stamp)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = start_server(port)
    levels = {}
    load_before = os.getloadavg()
    try:
        # Every gunicorn process past its first requests (URL modules import scipy: seconds of CPU),
        # so the CPU measured below is the cycle's own.
        warm = [key for name, key in tokens.items() if name.startswith(f"bench-{stamp}-warm-")]
        _level(port, slug, warm, seconds=3)
        for level in LEVELS:
            mine = [key for name, key in tokens.items() if name.startswith(f"bench-{stamp}-c{level}-")]
            before, client_before = _cpu(server), time.process_time()
            levels[str(level)] = _level(port, slug, mine)
            cycles = levels[str(level)]["cycles"]
            levels[str(level)]["cpu_ms_per_cycle"] = {
                **_cpu_ms_per_cycle(before, _cpu(server), cycles),
                # The clients share the two cores with the server: their Python is in every cycle too.
                "clients": round((time.process_time() - client_before) / max(cycles, 1) * 1000, 1),
            }
            if levels[str(level)]["error_count"]:
                raise RuntimeError(f"{level} clients: {levels[str(level)]['errors']}")
            print(f"  {level} clients: {json.dumps(levels[str(level)])}", flush=True)
    finally:
        server.terminate()
        server.wait(timeout=30)
    check = _database_check(dataset_id)
    naive_dataset = Dataset.objects.get(id=dataset_id)
    naive = [_naive(naive_dataset.id, threads, min(SECONDS, 8), stamp) for threads in (10, 50)]
    Dataset.objects.filter(id=dataset_id).delete()
    measured = label_studio.latest()  # `make bench-label-studio`: the reference taken on this machine
    top = levels.get("50") or levels[str(LEVELS[-1])]
    ten = levels.get("10") or top
    return {
        "benchmark": "annotation",
        "videos": VIDEOS,
        "seconds_per_level": SECONDS,
        "server": f"gunicorn gthread, {WORKERS} processes x {THREADS} threads, keep-alive, "
        "DATABASE_CONN_MAX_AGE=60",
        "levels": levels,
        # The machine is shared: its load (1/5/15 min) before and after says how far to trust this run.
        "load_average": {"before": load_before, "after": os.getloadavg()},
        "database_check": check,
        "naive_no_locks_same_run": naive,
        "label_studio_reference": LABEL_STUDIO,
        "label_studio_measured_here": measured,
        "summary": {
            "p95_ms_at_10": ten["p95_ms"],
            "cycles_per_s_at_50": top["cycles_per_s"],
            "x_label_studio_at_50": round(top["cycles_per_s"] / LABEL_STUDIO["50"]["cycles_per_s"], 1),
            "x_label_studio_measured_here": {
                level: round(value["cycles_per_s"] / measured["annotation"][level]["cycles_per_s"], 1)
                for level, value in levels.items()
                if level in measured["annotation"]
            }
            if measured
            else None,
            "cpu_ms_per_cycle_at_50": top["cpu_ms_per_cycle"],
            "double_assignments": sum(v["double_assignments_seen"] for v in levels.values())
            + check["tasks_over_assigned"],
            "naive_tasks_over_assigned_at_50": naive[-1]["tasks_over_assigned"],
            "target": "p95 < 100 ms at 10 clients, >= 20x Label Studio at 50 (53 cycles/s), "
            "0 double assignments",
        },
    }

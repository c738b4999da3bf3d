"""`make soak`: the whole stack on loopback under a working day's worth of load, compressed.

gunicorn (as bench_annotation serves it), a real Celery worker, PostgreSQL and Redis; SOAK_CLIENTS
(50) simulated crowdworkers, each with its own API token and keep-alive connection, doing next /
answer, and a share of undo + answer again, for SOAK_SECONDS (300), while an ingest of real clips
queues the pipeline on the worker, a bulk ingest of 20,000 URL rows runs, and an export of the
annotated dataset is requested every minute. The clients do not pause between requests (a real
crowdworker takes seconds per task: 50 of them at full speed are far more load than 50 people).

It ends with a consistency check in SQL (every answer the server acknowledged is stored and nothing
else, no duplicates, no task over its overlap, no slot leased twice, no orphan rows), waits for
the pipeline and the exports (bounded), and writes p50/p95/p99 latency, throughput, error counts
and CPU to bench/results/soak.json. Every loop is bounded by the clock; it stops by itself.
`python bench/soak.py` exits 1 when an error, a lost or duplicated answer or an inconsistency was
found; the latency target (p99 < 250 ms per request) is reported, not enforced.
"""

import http.client
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.bench_annotation import (  # noqa: E402 (run directly too)
    Client,
    _cpu,
    _django,
    _percentile,
    annotation_dataset,
    start_server,
)

SECONDS = float(os.environ.get("SOAK_SECONDS", 300))
CLIENTS = int(os.environ.get("SOAK_CLIENTS", 50))
UNDO_SHARE = 0.1  # answers taken back and given again
# Mean pause before each request (uniform, 0 to twice this): a person reads the question and
# watches the clip for seconds; 0 sends requests back to back, which only measures saturation
# (latency is then clients / throughput, Little's law).
THINK_SECONDS = float(os.environ.get("SOAK_THINK_MS", 500)) / 1000
EXPORT_EVERY = min(60.0, SECONDS / 3)
BULK_ROWS = int(os.environ.get("SOAK_INGEST_ROWS", 20_000))
# Enough tasks that the clients never run out: ~100 answers/s at most on 2 cores, 2 per task.
VIDEOS = int(os.environ.get("SOAK_VIDEOS", max(2_000, int(SECONDS * 60))))
P99_TARGET_MS = 250
API = "/api/v1/annotation"


def _crowdworker(port: int, slug: str, token: str, stop_at: float, seed: int) -> dict:
    """One crowdworker until `stop_at`: what it saw (latencies, errors, the slots handed to it)
    and, per slot, what the server last acknowledged: the answer's id, or None once undone."""
    api, rng = Client(port, token), random.Random(seed)
    seen = {"latency": defaultdict(list), "errors": [], "handed": [], "acknowledged": {}, "no_work": 0}

    def call(kind: str, path: str, body: dict, expected: tuple[int, ...]):
        time.sleep(rng.uniform(0, 2 * THINK_SECONDS))
        started = time.perf_counter()
        try:
            status, data = api.post(path, body)
        except (OSError, http.client.HTTPException) as exc:  # a dropped connection is an error too
            api.connection.close()
            seen["errors"].append(f"{kind}: {exc!r}")
            return None
        seen["latency"][kind].append(time.perf_counter() - started)
        if status not in expected:
            seen["errors"].append(f"{kind} {status} {str(data)[:200]}")
            return None
        return status, data

    def answer(slot: int) -> None:
        choice = rng.choice(["yes", "yes", "yes", "no", "unsure"])
        if done := call("answer", f"{API}/assignments/{slot}/answer/", {"choice": choice}, (201,)):
            seen["acknowledged"][slot] = done[1]["answer"]

    while time.monotonic() < stop_at:
        got = call("next", f"{API}/next/", {"dataset": slug}, (200, 204))
        # 204: no work; 200 with "task": null: work is being prepared (videos still processing).
        if got is None or got[0] == 204 or got[1].get("task", True) is None:
            seen["no_work"] += got is not None
            time.sleep(0.5)
            continue
        slot = got[1]["id"]
        seen["handed"].append(slot)
        answer(slot)
        if slot in seen["acknowledged"] and rng.random() < UNDO_SHARE:
            if call("undo", f"{API}/assignments/{slot}/undo/", {}, (200,)):
                seen["acknowledged"][slot] = None
                answer(slot)
    return seen


def _crowd(port: int, slug: str, tokens: list[str], stop_at: float) -> list[dict]:
    results: list[dict] = [{} for _ in tokens]

    def work(index: int) -> None:
        results[index] = _crowdworker(port, slug, tokens[index], stop_at, seed=index)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(tokens))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def _warm(port: int, tokens: list[str]) -> None:
    """Every server process and thread past its first request (URL modules imported, a database
    connection made) before the clock starts, as after any deployment's first minutes."""

    def visit(token: str) -> None:
        api = Client(port, token)
        for _ in range(2):
            api.connection.request("GET", f"{API}/me/", headers=api.headers)
            api.connection.getresponse().read()

    threads = [threading.Thread(target=visit, args=(token,)) for token in tokens]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def _background() -> None:
    """Batch work (the pipeline's ffmpeg, ingest, exports) yields the CPU to the web server, as a
    deployment on shared cores would set it up; on separate machines it would not compete at all."""
    os.nice(10)


def _celery_worker(env: dict, log) -> subprocess.Popen:
    """A real worker on every queue, one pool process (the pipeline's stages and the exports)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", "media,ocr,ml", "--concurrency", "1",
         "--loglevel", "WARNING", "--without-gossip", "--without-mingle"],
        cwd=ROOT, env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT, preexec_fn=_background,
    )  # fmt: skip
    from config.celery import app

    deadline = time.monotonic() + 60
    while not app.control.ping(timeout=1.0):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError("the Celery worker did not start")
    return process


def _manifests(folder: Path, topics: list[str]) -> tuple[Path, Path]:
    """The real clips (MICROCURATE_SHARED_DATA/videos, else generated ones) and BULK_ROWS URL rows."""
    clips = sorted(
        Path(os.environ.get("MICROCURATE_SHARED_DATA", ROOT.parent / "shared" / "data")).glob("videos/*")
    )
    if not clips:
        from curation.lib.synth import synth_clip

        clips = [synth_clip(folder / "media" / f"clip{n}.mp4", seconds=3 + n) for n in range(6)]
    media = folder / "clips.jsonl"
    media.write_text(
        "".join(json.dumps({"video": str(c), "id": c.name, "topic": topics[0]}) + "\n" for c in clips)
    )
    bulk = folder / "bulk.jsonl"
    with bulk.open("w") as out:
        for i in range(BULK_ROWS):
            row = {"video": f"https://cdn.example.com/soak/{i}.mp4", "id": f"u{i}", "title": f"clip {i}"}
            out.write(
                json.dumps({**row, "topic": topics[i % len(topics)], "publisher": f"p{i % 500}"}) + "\n"
            )
    return media, bulk


def _ingest(dataset: str, manifest: Path, pipeline: str, env: dict, log) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "manage.py", "ingest", "--dataset", dataset, str(manifest), "--pipeline", pipeline,
         "--no-progress"],
        cwd=ROOT, env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT, preexec_fn=_background,
    )  # fmt: skip


def _wait(predicate, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(1)
    return predicate()


# Each counts rows that must not exist, in one dataset (%s). Answers whose slot is not answered
# by the same worker for the same task, and answered slots without an answer, are the orphans.
_ANSWERS = "annotator_answer a JOIN annotator_task t ON t.id = a.task_id WHERE t.dataset_id = %s"
_CHECKS = {
    "tasks_over_overlap": f"""
        SELECT count(*) FROM (SELECT 1 FROM {_ANSWERS}
        GROUP BY t.id, t.needed HAVING count(*) > t.needed) x""",
    "task_counters_wrong": """
        SELECT count(*) FROM annotator_task t WHERE t.dataset_id = %s
        AND t.answered <> (SELECT count(*) FROM annotator_answer a WHERE a.task_id = t.id)""",
    "worker_answered_task_twice": f"""
        SELECT count(*) FROM (SELECT 1 FROM {_ANSWERS}
        GROUP BY a.task_id, a.worker_id HAVING count(*) > 1) x""",
    "lease_held_twice": """
        SELECT count(*) FROM (SELECT 1 FROM annotator_assignment WHERE dataset_id = %s
        AND worker_id IS NOT NULL GROUP BY task_id, worker_id HAVING count(*) > 1) x""",
    "orphan_answers": """
        SELECT count(*) FROM annotator_answer a JOIN annotator_assignment s ON s.id = a.assignment_id
        WHERE s.dataset_id = %s
        AND (s.state <> 'answered' OR s.worker_id <> a.worker_id OR s.task_id <> a.task_id)""",
    "answered_slots_without_answer": """
        SELECT count(*) FROM annotator_assignment s WHERE s.dataset_id = %s AND s.state = 'answered'
        AND NOT EXISTS (SELECT 1 FROM annotator_answer a WHERE a.assignment_id = s.id)""",
}


def _consistency(dataset_id: int, crowd: list[dict]) -> dict:
    """What the database holds against what the server told the clients."""
    from django.db import connection

    acknowledged = {slot: answer for seen in crowd for slot, answer in seen["acknowledged"].items()}
    expected = {slot: answer for slot, answer in acknowledged.items() if answer is not None}
    with connection.cursor() as cursor:
        result = {}
        for name, statement in _CHECKS.items():
            cursor.execute(statement, [dataset_id])
            result[name] = cursor.fetchone()[0]
        cursor.execute(f"SELECT a.assignment_id, a.id FROM {_ANSWERS}", [dataset_id])
        stored = dict(cursor.fetchall())
    workers_per_slot = defaultdict(set)
    for index, seen in enumerate(crowd):
        for slot in seen["handed"]:
            workers_per_slot[slot].add(index)
    return {
        "answers_acknowledged": len(expected),
        "answers_stored": len(stored),
        "lost": sum(stored.get(slot) != answer for slot, answer in expected.items()),
        "stored_not_acknowledged": sum(expected.get(slot) != answer for slot, answer in stored.items()),
        "slots_handed_to_two_workers": sum(len(workers) > 1 for workers in workers_per_slot.values()),
        **result,
    }


def _latency(crowd: list[dict], seconds: float) -> dict:
    kinds = sorted({kind for seen in crowd for kind in seen["latency"]})
    by_kind = {kind: [x for seen in crowd for x in seen["latency"][kind]] for kind in kinds}
    every = [x for values in by_kind.values() for x in values]

    def summary(values: list[float]) -> dict:
        return {
            "requests": len(values),
            **{f"p{q}_ms": round(_percentile(values, q) * 1000, 1) for q in (50, 95, 99)},
            "max_ms": round(max(values) * 1000, 1),
        }

    return {
        "all_requests": summary(every),
        **{kind: summary(values) for kind, values in by_kind.items()},
        "requests_per_s": round(len(every) / seconds, 1),
        "answers_per_s": round(len(by_kind.get("answer", [])) / seconds, 1),
    }


def run() -> dict:
    subprocess.run([sys.executable, "manage.py", "migrate", "--no-input", "-v0"], cwd=ROOT, check=True)
    _django()
    from django.contrib.auth.models import User
    from django.db.models import Q
    from rest_framework.authtoken.models import Token

    from curation.models import Dataset, ExportJob, StageStatus, Video
    from curation.services.datasets import dataset_create
    from curation.services.pipeline import STAGES

    stamp = time.strftime("%H%M%S")
    work = Path(tempfile.mkdtemp(prefix="microcurate-soak-"))
    (work / "media").mkdir()
    names = [f"soak-{stamp}-{n}" for n in range(CLIENTS)]
    started_setup = time.monotonic()
    dataset, tokens = annotation_dataset(f"soak-{stamp}", videos=VIDEOS, usernames=names)
    setup_s = round(time.monotonic() - started_setup, 1)
    curator = User.objects.create_user(f"soak-{stamp}-curator", is_staff=True)
    curator_token = Token.objects.create(user=curator).key
    media_set = dataset_create(slug=f"soak-media-{stamp}", name="soak: real clips", taxonomy="usv")
    bulk_set = dataset_create(slug=f"soak-bulk-{stamp}", name="soak: bulk ingest", taxonomy="usv")
    clips, bulk = _manifests(work, list(media_set.topics.order_by("id").values_list("name", flat=True)))
    # OCR (seconds of CPU a frame) is off: its stage is marked skipped and the pipeline completes.
    env = {"MEDIA_ROOT": str(work / "media"), "MICROCURATE_OCR_ENABLED": "0"}
    logs = {name: open(work / f"{name}.log", "w") for name in ("gunicorn", "celery", "ingest", "bulk")}
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    curator_api = Client(port, curator_token)
    processes, exports, ingests, crowd = [], [], {}, []
    load_before = os.getloadavg()
    try:
        server = start_server(port, env=env, log=logs["gunicorn"])
        processes.append(server)
        processes.append(_celery_worker(env, logs["celery"]))
        _warm(port, list(tokens.values()))
        cpu_before, client_before = _cpu(server), time.process_time()
        stop_at = time.monotonic() + SECONDS
        crowd_thread = threading.Thread(
            target=lambda: crowd.extend(_crowd(port, dataset.slug, list(tokens.values()), stop_at))
        )
        crowd_thread.start()
        time.sleep(min(5.0, SECONDS / 10))
        ingests["clips"] = _ingest(media_set.slug, clips, "queue", env, logs["ingest"])
        ingests["bulk"] = _ingest(bulk_set.slug, bulk, "none", env, logs["bulk"])
        processes.extend(ingests.values())
        next_export = time.monotonic()
        while time.monotonic() < stop_at:
            if time.monotonic() >= next_export:
                fmt = ["jsonl", "csv"][len(exports) % 2]
                status, job = curator_api.post(f"/api/v1/datasets/{dataset.slug}/exports/", {"format": fmt})
                exports.append(job["id"] if status == 202 else f"refused {status} {job}")
                next_export += EXPORT_EVERY
            time.sleep(0.5)
        crowd_thread.join()
        cpu_after, client_cpu = _cpu(server), time.process_time() - client_before
        load_after = os.getloadavg()
        ingest_codes = {name: process.wait(timeout=300) for name, process in ingests.items()}
        media_videos = Video.objects.filter(dataset=media_set)
        # Finished: every stage done or skipped, or one failed (the later ones then never run).
        waiting, failed = Q(), Q()
        for stage in STAGES:
            waiting |= Q(**{f"{stage.status_field}__in": [StageStatus.PENDING, StageStatus.RUNNING]})
            failed |= Q(**{stage.status_field: StageStatus.FAILED})
        pipeline_finished = _wait(
            lambda: not media_videos.filter(waiting).exclude(failed).exists(), seconds=300
        )
        job_ids = [job for job in exports if isinstance(job, int)]
        jobs = ExportJob.objects.filter(id__in=job_ids)
        exports_finished = _wait(
            lambda: not jobs.filter(status__in=["queued", "running"]).exists(), seconds=300
        )
    finally:
        for process in reversed(processes):
            if process.poll() is None:
                process.terminate()
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        for log in logs.values():
            log.close()

    checks = _consistency(dataset.id, crowd)
    errors = [error for seen in crowd for error in seen["errors"]]
    latency = _latency(crowd, SECONDS)
    # The server's processes live throughout; PostgreSQL backends do not (DATABASE_CONN_MAX_AGE
    # recycles them every minute), so their CPU cannot be read from /proc the same way.
    server_cpu = sum(
        cpu_after["server"][pid] - cpu_before["server"].get(pid, 0.0) for pid in cpu_after["server"]
    )
    stages = {
        stage.name: dict(Counter(media_videos.values_list(stage.status_field, flat=True))) for stage in STAGES
    }
    failed_without_reason = media_videos.filter(failed, error="").count()
    export_status = dict(Counter(ExportJob.objects.filter(id__in=job_ids).values_list("status", flat=True)))
    result = {
        "benchmark": "soak",
        "seconds": SECONDS,
        "clients": CLIENTS,
        "videos_to_annotate": VIDEOS,
        "setup_s": setup_s,
        "server": "gunicorn gthread, 2 processes x 25 threads; Celery worker (1 pool process, OCR off) "
        "and the ingests at nice 10",
        "think_ms_mean": THINK_SECONDS * 1000,
        "latency": latency,
        "errors": len(errors),
        "error_samples": errors[:10],
        "no_work_answers": sum(seen["no_work"] for seen in crowd),
        "consistency": checks,
        "ingest": {
            "exit_codes": ingest_codes,
            "clips_stored": media_videos.count(),
            "bulk_rows_stored": Video.objects.filter(dataset=bulk_set).count(),
            "pipeline_finished": pipeline_finished,
            "stages": stages,
            "failed_without_reason": failed_without_reason,
        },
        "exports": {
            "requested": len(exports),
            "finished": exports_finished,
            "status": export_status,
            "refused": [job for job in exports if not isinstance(job, int)],
        },  # fmt: skip
        "cpu_s": {"server": round(server_cpu, 1), "clients": round(client_cpu, 1)},
        "server_cpu_ms_per_answer": round(server_cpu / max(checks["answers_acknowledged"], 1) * 1000, 1),
        "load_average": {"before": load_before, "after": load_after},
    }
    lost_or_wrong = sum(value for key, value in checks.items() if not key.startswith("answers_"))
    result["summary"] = {
        "answers": checks["answers_acknowledged"],
        "answers_per_s": latency["answers_per_s"],
        "p50_p95_p99_ms": [latency["all_requests"][f"p{q}_ms"] for q in (50, 95, 99)],
        "errors": len(errors),
        "lost": checks["lost"],
        "duplicated": checks["worker_answered_task_twice"],
        "inconsistencies": lost_or_wrong,
        "p99_target_met": latency["all_requests"]["p99_ms"] < P99_TARGET_MS,
        "passed": not errors
        and not lost_or_wrong
        and pipeline_finished
        and exports_finished
        and not failed_without_reason
        and set(export_status) <= {"done"},
        "target": f"0 errors, 0 lost, 0 duplicated at {CLIENTS} clients; p99 < {P99_TARGET_MS} ms a request",
    }
    Dataset.objects.filter(id__in=[dataset.id, media_set.id, bulk_set.id]).delete()
    User.objects.filter(username__startswith=f"soak-{stamp}-").delete()
    shutil.rmtree(work, ignore_errors=True)
    return result


if __name__ == "__main__":
    from bench.run import main

    main(["soak"])
    summary = json.loads((ROOT / "bench" / "results" / "soak.json").read_text())["summary"]
    sys.exit(0 if summary["passed"] else 1)

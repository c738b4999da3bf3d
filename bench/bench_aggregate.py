"""Aggregation of 250,000 simulated videos × 2 answers (and × 5): seconds, peak RSS, accuracy.

The issue's setting: 200 workers of 60–95 % accuracy, 21.7 % noise (ml.crowdsim). Ours (majority
vote, USV's rule, Dawid–Skene in numpy) against crowd-kit 1.4.2's Dawid–Skene and majority vote
on the same answers in the same run. Each measurement runs in its own child process so its peak
RSS (`/usr/bin/time -f %M`) is its own; seconds time the aggregation only, not the simulation.
Issue reference on this machine: crowd-kit DS ≈ 20 s; 2 answers: MV 0.882 vs DS 0.871;
5 answers: DS 0.960 vs MV 0.934.

The database leg (`db`): the same 250,000 videos × 2 answers through
`curation.services.labels.verdicts.verdicts_aggregate` into PostgreSQL — one aggregation run (USV's
rule, the "auto" choice at two answers), 250,000 verdicts upserted, agreement per topic, noise
estimates per topic/macro topic and the extrapolation — first into an empty verdict table, then
again with the same answers (every row meets its conflict, none changed, none rewritten), then
Dawid–Skene as a second method (250,000 new rows). The videos are COPYed in by
a setup child first; the measuring child's peak RSS covers the simulation and both runs. Beside
wall seconds it reads CPU seconds of the process and of its PostgreSQL backend
(/proc/<pid>/stat), which other load on the machine does not inflate.
"""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ITEMS = int(os.environ.get("BENCH_AGGREGATE_ITEMS", 250_000))
SEED = 0
REFERENCE = {"crowdkit_ds_seconds": 20, "2": {"mv": 0.882, "ds": 0.871}, "5": {"mv": 0.934, "ds": 0.960}}

CHILD = """
import json, sys, time
import numpy as np
from ml.crowdsim import simulate_verification
items, per_item, seed, runner = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
sim = simulate_verification(items=items, answers_per_item=per_item, seed=seed)
a = sim.answers
extra = {}
if runner.startswith("crowdkit"):
    import pandas as pd
    from crowdkit.aggregation import DawidSkene, MajorityVote
    frame = pd.DataFrame({"task": a.item, "worker": a.worker, "label": a.label})
    model = DawidSkene(n_iter=100) if runner == "crowdkit-ds" else MajorityVote()
    start = time.perf_counter()
    labels = model.fit_predict(frame)
    seconds = time.perf_counter() - start
    predicted = labels.reindex(np.arange(items)).to_numpy()
    if runner == "crowdkit-ds":
        extra["iterations"] = len(model.loss_history_)
else:
    from ml.verdicts import verdicts_decide
    start = time.perf_counter()
    result = verdicts_decide(a, runner)
    seconds = time.perf_counter() - start
    # A disagreement stays in the dataset (USV): it counts as the clean label here.
    predicted = np.where(result.reference < 0, 1, result.reference)
    if runner == "ds":
        extra["iterations"] = result.iterations
print(json.dumps({"seconds": seconds, "accuracy": float((predicted == sim.truth).mean()), **extra}))
"""


def _measure(per_item: int, runner: str) -> dict:
    arguments = [str(ITEMS), str(per_item), str(SEED), runner]
    command = ["/usr/bin/time", "-f", "%M", sys.executable, "-c", CHILD, *arguments]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{runner} × {per_item} failed:\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["peak_rss_mb"] = round(int(done.stderr.strip().splitlines()[-1]) / 1024, 1)
    result["seconds"] = round(result["seconds"], 2)
    result["accuracy"] = round(result["accuracy"], 4)
    return result


DB_ITEMS = int(os.environ.get("BENCH_AGGREGATE_DB_ITEMS", ITEMS))

DB_SETUP = """
import io, sys, time
import django
django.setup()
from django.db import connection
from django.utils import timezone
from curation.models import Video
from curation.services.datasets import dataset_create
slug, items = sys.argv[1], int(sys.argv[2])
dataset = dataset_create(slug=slug, name="verdicts benchmark", taxonomy="usv")
topics = list(dataset.topics.order_by("id").values_list("id", flat=True))
template = Video(dataset=dataset, external_id="x", source="x", source_kind="url", weak_topic_id=topics[0])
now = timezone.now()
fields = [f for f in Video._meta.concrete_fields if f.attname != "id"]
row = {}
for f in fields:
    value = getattr(template, f.attname)
    if f.attname in ("created_at", "updated_at"):
        value = now
    row[f.attname] = f.get_db_prep_save(value, connection)
columns = [f.column for f in fields]
with connection.cursor() as cursor:
    with cursor.cursor.copy(f"COPY {Video._meta.db_table} ({', '.join(columns)}) FROM STDIN") as copy:
        for i in range(items):
            row["external_id"], row["source"] = f"b{i}", f"https://cdn.example.com/{i}.mp4"
            row["weak_topic_id"] = topics[i % len(topics)]
            copy.write_row([row[f.attname] for f in fields])
print(dataset.id)
"""

DB_CHILD = """
import json, os, sys, time
import django
import numpy as np
django.setup()
from django.db import connection
from curation.models import Dataset, Video, VideoVerdict
from curation.services.labels import noise  # imported as a running server would have it (scipy: ~2 s)
from curation.services.labels.verdicts import verdicts_aggregate
from ml.crowdsim import simulate_verification
from bench.procstat import cpu_seconds as cpu

dataset = Dataset.objects.get(id=int(sys.argv[1]))
items, seed = int(sys.argv[2]), int(sys.argv[3])
videos = Video.objects.filter(dataset=dataset).order_by("id").values_list("id", flat=True)
ids = np.fromiter(videos.iterator(), np.int64)
sim = simulate_verification(items=items, answers_per_item=2, seed=seed)
a = sim.answers
with connection.cursor() as cursor:
    cursor.execute("SELECT pg_backend_pid()")
    backend = cursor.fetchone()[0]
readable = cpu(backend) is not None
out = {}


def answer_rows():  # the simulated answers as the annotator hands them over, chunk by chunk
    for start in range(0, a.item.size, 50_000):
        part = slice(start, start + 50_000)
        videos, workers, labels = ids[a.item[part]].tolist(), a.worker[part].tolist(), a.label[part].tolist()
        for video, worker, label in zip(videos, workers, labels):
            yield video, f"user:{worker}", a.classes[label], ""


for leg, method in (("first", "auto"), ("again", "auto"), ("ds", "ds")):
    rows = answer_rows()
    backend_before = cpu(backend) if readable else None
    own_before, start = time.process_time(), time.perf_counter()
    summary = verdicts_aggregate(dataset=dataset, rows=rows, method=method)
    seconds = time.perf_counter() - start
    out[leg] = {
        "seconds": round(seconds, 2),
        "cpu_s_process": round(time.process_time() - own_before, 2),
        "cpu_s_postgres_backend": round(cpu(backend) - backend_before, 2) if readable else None,
        "method": summary.method,
        "verdicts": summary.verdicts,
        "estimates": len(summary.estimates),
        "noise_estimate": next(
            {"rate": round(e.rate, 4), "low": round(e.low, 4), "high": round(e.high, 4), "n": e.n}
            for e in summary.estimates if e.scope == "dataset"
        ),
    }
noisy = VideoVerdict.objects.filter(dataset=dataset, method="usv", label="noise")
noise_ids = noisy.values_list("video_id", flat=True)
called = np.isin(ids, np.fromiter(noise_ids.iterator(), np.int64))
out["usv_noise_call_accuracy"] = round(float((called == (sim.truth == 0)).mean()), 4)
print(json.dumps(out))
"""


def _measure_db() -> dict:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings"}
    slug = f"bench-verdicts-{time.strftime('%H%M%S')}"
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--no-input", "-v0"], cwd=ROOT, env=env, check=True
    )
    setup = subprocess.run(
        [sys.executable, "-c", DB_SETUP, slug, str(DB_ITEMS)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    if setup.returncode != 0:
        raise RuntimeError(f"verdicts setup failed:\n{setup.stderr[-3000:]}")
    dataset_id = setup.stdout.strip().splitlines()[-1]
    try:
        command = [
            "/usr/bin/time",
            "-f",
            "%M",
            sys.executable,
            "-c",
            DB_CHILD,
            dataset_id,
            str(DB_ITEMS),
            str(SEED),
        ]
        done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"verdicts_aggregate failed:\n{done.stderr[-3000:]}")
        result = json.loads(done.stdout.strip().splitlines()[-1])
        result["peak_rss_mb"] = round(int(done.stderr.strip().splitlines()[-1]) / 1024, 1)
        result["items"] = DB_ITEMS
        return result
    finally:
        cleanup = f"from curation.models import Dataset; Dataset.objects.filter(slug={slug!r}).delete()"
        subprocess.run([sys.executable, "manage.py", "shell", "-c", cleanup], cwd=ROOT, env=env, check=True)


def run() -> dict:
    runs = {
        "2": {runner: _measure(2, runner) for runner in ("mv", "usv", "ds", "crowdkit-mv", "crowdkit-ds")},
        "5": {runner: _measure(5, runner) for runner in ("mv", "ds", "crowdkit-ds")},
    }
    runs["db"] = _measure_db()
    two, five = runs["2"], runs["5"]
    return {
        "benchmark": "aggregate",
        "items": ITEMS,
        "workers": 200,
        "noise_rate": 0.217,
        "runs": runs,
        "issue_reference": REFERENCE,
        "summary": {
            "ds_seconds_2_answers": two["ds"]["seconds"],
            "ds_peak_rss_mb": two["ds"]["peak_rss_mb"],
            "x_crowdkit_ds_same_run": round(two["crowdkit-ds"]["seconds"] / two["ds"]["seconds"], 1),
            "accuracy_2_answers": {"mv": two["mv"]["accuracy"], "ds": two["ds"]["accuracy"]},
            "accuracy_5_answers": {"mv": five["mv"]["accuracy"], "ds": five["ds"]["accuracy"]},
            "default": "mv below 3 answers per item, ds from 3 (aggregate_file --method auto); "
            "usv below 3, ds from 3 for verdicts in the database",
            "db_verdicts_seconds": runs["db"]["first"]["seconds"],
            "db_verdicts_rerun_seconds": runs["db"]["again"]["seconds"],
            "db_verdicts_ds_seconds": runs["db"]["ds"]["seconds"],
            "db_peak_rss_mb": runs["db"]["peak_rss_mb"],
        },
    }

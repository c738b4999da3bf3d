"""Ingest of a generated 100,000-row manifest with `--pipeline none`: rows/s and peak RSS.

Baselines: in the same run, the naive way (one ORM INSERT per row, as an import view that
saves each task does) on a 5,000-row slice; and Label Studio 1.23's measured import of 100,000
tasks on this machine (~24 s, ≈4,100 tasks/s, ≈650 MB peak RSS).
"""

import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.procstat import tree_rss_kb  # noqa: E402 (run directly too)

WORK = ROOT / "bench" / "work"
ROWS = int(os.environ.get("BENCH_INGEST_ROWS", 100_000))
NAIVE_ROWS = 5_000
LABEL_STUDIO = {"rows_per_s": 4100, "peak_rss_mb": 650, "seconds_for_100k": 24}


def _manifest(rows: int) -> Path:
    WORK.mkdir(parents=True, exist_ok=True)
    path = WORK / f"manifest-{rows}.jsonl"
    if path.exists():
        return path
    topics = [
        line.split(",", 1)[1].strip()
        for line in (ROOT / "curation/data/usv_taxonomy.csv").read_text().splitlines()[1:]
    ]
    rng = random.Random(0)
    with open(path, "w") as out:
        for i in range(rows):
            row = {
                "id": f"v{i:07d}",
                "video": f"https://cdn.example.com/clips/{i:07d}.mp4",
                "title": f"clip {i} about {rng.choice(topics)} #fyp #{rng.randrange(1000)}",
                "topic": rng.choice(topics),
                "publisher": f"user{rng.randrange(20_000)}",
                "followers": rng.randrange(1_000_000),
                "clicks": rng.randrange(10_000_000),
                "thumbnail": f"https://cdn.example.com/thumbs/{i:07d}.jpg",
                "hashtags": ["fyp", f"t{rng.randrange(500)}"],
            }
            out.write(json.dumps(row) + "\n")
    return path


def _manage(*args: str, measure: bool = False) -> dict:
    """Run manage.py in a child process; returns wall seconds, and with `measure` its CPU seconds
    (user + system, the parsing process it forks included: less sensitive than wall time to other
    work on a shared machine; the PostgreSQL server's share is not in it) and two peaks of memory:
    `peak_rss_mb`, the largest process (/usr/bin/time), and `peak_rss_sum_mb`, the command and its
    parsing process together, sampled every 50 ms (an upper bound: pages the fork shares count
    twice)."""
    command = [sys.executable, str(ROOT / "manage.py"), *args]
    if measure:
        command = ["/usr/bin/time", "-f", "%U %S %M", *command]
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak_sum = 0
    while measure and process.poll() is None:
        peak_sum = max(peak_sum, tree_rss_kb(process.pid))
        time.sleep(0.05)
    stdout, stderr = process.communicate()
    seconds = time.perf_counter() - started
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed:\n{stderr[-3000:]}")
    user, system, peak_kb = stderr.strip().splitlines()[-1].split() if measure else (0, 0, 0)
    return {
        "seconds": seconds,
        "cpu_seconds": float(user) + float(system),
        "peak_rss_mb": int(peak_kb) / 1024,
        "peak_rss_sum_mb": peak_sum / 1024,
        "stdout": stdout,
    }


NAIVE = """
import json, sys, time
from curation.models import Dataset, Topic, Publisher, Video
ds = Dataset.objects.get(slug=sys.argv[1])
topics = {t.name: t for t in ds.topics.all()}
start = time.perf_counter()
with open(sys.argv[2]) as f:
    for i, line in enumerate(f):
        if i >= int(sys.argv[3]):
            break
        r = json.loads(line)
        pub, _ = Publisher.objects.get_or_create(dataset=ds, external_id=r["publisher"],
                                                defaults={"followers": r["followers"]})
        Video.objects.create(
            dataset=ds, external_id=r["id"], source=r["video"], source_kind="url", title=r["title"],
            weak_topic=topics[r["topic"]], publisher=pub, clicks=r["clicks"],
            thumbnail=r["thumbnail"], metadata={"hashtags": r["hashtags"]},
        )
print(time.perf_counter() - start)
"""


def run() -> dict:
    from bench import label_studio  # here: it imports this module

    manifest = _manifest(ROWS)
    _manage("migrate", "--no-input", "-v0")
    stamp = time.strftime("%H%M%S")
    ours, naive = f"bench-ingest-{stamp}", f"bench-naive-{stamp}"
    _manage("create_dataset", ours, "--taxonomy", "usv")
    _manage("create_dataset", naive, "--taxonomy", "usv")
    try:
        args = ("--pipeline", "none", "--no-progress")
        result = _manage("ingest", "--dataset", ours, str(manifest), *args, measure=True)
        assert f"{ROWS} new videos" in result["stdout"], result["stdout"]
        rerun = _manage("ingest", "--dataset", ours, str(manifest), *args)
        assert f"{ROWS} already present" in rerun["stdout"], rerun["stdout"]
        naive_run = subprocess.run(
            [sys.executable, "-c", "import django; django.setup()\n" + NAIVE,
             naive, str(manifest), str(NAIVE_ROWS)],
            cwd=ROOT, capture_output=True, text=True, check=True,
            env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings"},
        )  # fmt: skip
        naive_rate = NAIVE_ROWS / float(naive_run.stdout.strip().splitlines()[-1])
    finally:
        cleanup = f"Dataset.objects.filter(slug__in={[ours, naive]!r}).delete()"
        _manage("shell", "-c", f"from curation.models import Dataset; {cleanup}")
    rate = ROWS / result["seconds"]
    measured = label_studio.latest()  # `make bench-label-studio`: the reference taken on this machine
    return {
        "benchmark": "ingest",
        "rows": ROWS,
        "seconds": round(result["seconds"], 2),
        "rows_per_s": round(rate),
        "peak_rss_mb": round(result["peak_rss_mb"], 1),
        "peak_rss_sum_mb": round(result["peak_rss_sum_mb"], 1),
        "child_cpu_seconds": round(result["cpu_seconds"], 2),
        "rerun_seconds": round(rerun["seconds"], 2),
        "naive_orm_rows_per_s": round(naive_rate),
        "label_studio_reference": LABEL_STUDIO,
        "label_studio_measured_here": measured,
        "summary": {
            "rows_per_s": round(rate),
            "peak_rss_mb": round(result["peak_rss_mb"], 1),
            "peak_rss_sum_mb": round(result["peak_rss_sum_mb"], 1),
            "x_naive_orm_same_run": round(rate / naive_rate, 1),
            "x_label_studio_rate": round(rate / LABEL_STUDIO["rows_per_s"], 2),
            "x_label_studio_measured_here": (
                round(rate / measured["import"]["rows_per_s"], 2) if measured else None
            ),
            "target": ">= 5x Label Studio (20,500 rows/s), < 200 MB",
        },
    }

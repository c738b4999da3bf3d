"""Export of a generated 250,000-video dataset (USV's size) as jsonl and csv: seconds, rows/s, peak RSS.

The dataset is generated directly in PostgreSQL (INSERT … SELECT generate_series): the USV
taxonomy's 212 topics, 20,000 publishers, verdicts for 40 % of the videos (21.7 % of them noise),
a subtitle with two cues for 20 %, and a frozen split v1 (0.8/0.1/0.1, grouped by publisher, noise
kept out of val/test). Each export runs `manage.py export_dataset --split v1` in its own child
process under `/usr/bin/time`, so its peak RSS and CPU seconds are its own; the CPU seconds of the
PostgreSQL backend that served it are read from /proc/<pid>/stat (both are load-insensitive,
unlike wall seconds on a shared machine).
Reference on this machine: Label Studio 1.23 exported 100,000 tasks as JSON in 198 s at 835 MB
peak RSS (505 tasks/s). Target: at least 20× faster per row (≥ 10,100 rows/s), under 300 MB.
"""

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.procstat import cpu_seconds  # noqa: E402 (run directly too)

VIDEOS = int(os.environ.get("BENCH_EXPORT_VIDEOS", 250_000))
FORMATS = ("jsonl", "csv")
LABEL_STUDIO = {"tasks": 100_000, "seconds": 198, "rows_per_s": 505, "peak_rss_mb": 835}
TARGET_ROWS_PER_S = 20 * LABEL_STUDIO["rows_per_s"]

GENERATE = """
import sys
import django
django.setup()
from django.db import connection, transaction
from django.utils import timezone
from curation.models import AggregationRun, Dataset, Split

dataset = Dataset.objects.get(slug=sys.argv[1])
videos = int(sys.argv[2])
with transaction.atomic(), connection.cursor() as c:
    p = {"d": dataset.id, "n": videos}
    c.execute("INSERT INTO curation_publisher (dataset_id, external_id, followers) "
              "SELECT %(d)s, 'user' || g, g * 37 FROM generate_series(0, 19999) g", p)
    c.execute('''
        WITH topics AS (SELECT array_agg(id ORDER BY id) AS ids FROM curation_topic WHERE dataset_id = %(d)s),
             pubs AS (SELECT min(id) AS first FROM curation_publisher WHERE dataset_id = %(d)s)
        INSERT INTO curation_video (
            dataset_id, external_id, source, source_kind, local_path, title, weak_topic_id, publisher_id,
            clicks, thumbnail, metadata, duration, duration_source, fps, width, height, rotation,
            display_width, display_height, has_audio, video_codec, audio_codec, container, size_bytes,
            probe_status, frames_status, proxy_status, ocr_status, proxy_path, error, created_at, updated_at)
        SELECT %(d)s, 'v' || lpad(g::text, 7, '0'), 'https://cdn.example.com/clips/' || g || '.mp4',
            'url', '', 'clip ' || g || ' #fyp #t' || (g %% 500),
            topics.ids[(1 + (g * 7919) %% cardinality(topics.ids))::int],
            pubs.first + ((g * 2654435761) %% 4294967291) %% 20000, (g * 104729) %% 10000000, '',
            jsonb_build_object('hashtags', jsonb_build_array('fyp', 't' || (g %% 500))),
            6 + (g %% 55), 'format', 30, 720, 1280, 0, 720, 1280, true, 'h264', 'aac', 'mov,mp4',
            1000000 + g, 'done', 'pending', 'pending', 'pending', '', '', now(), now()
        FROM generate_series(0::bigint, %(n)s - 1) g, topics, pubs
    ''', p)
    run = AggregationRun.objects.create(dataset=dataset, method="mv", items=videos * 2 // 5)
    p["run"] = run.id
    # Verdicts for 40 %; 5 in 23 of them (21.7 %) noise.
    c.execute('''
        INSERT INTO curation_videoverdict (video_id, dataset_id, run_id, method, label, confidence,
            answers_used, answers, disputed, from_gold, updated_at)
        SELECT id, %(d)s, %(run)s, 'mv', CASE WHEN id %% 23 < 5 THEN 'noise' ELSE 'verified' END, 0.9, 2,
            CASE WHEN id %% 23 < 5 THEN '{"no": 2}'::jsonb ELSE '{"yes": 2}'::jsonb END, false, false, now()
        FROM curation_video WHERE dataset_id = %(d)s AND id %% 5 < 2
    ''', p)
    c.execute('''
        INSERT INTO curation_videosubtitle (video_id, text, reason, languages, watermarks, frames,
            frames_read, frames_reused, frames_skipped, seconds, updated_at)
        SELECT id, 'follow for more ' || id || ' best moments', '', '["en"]', '[]', '[]', 10, 5, 0, 1.5, now()
        FROM curation_video WHERE dataset_id = %(d)s AND id %% 5 = 4
    ''', p)
    c.execute('''
        INSERT INTO curation_subtitlecue (video_id, index, start, "end", text)
        SELECT v.id, k, (k - 1) * 2.0, k * 2.0 - 0.5, CASE k WHEN 1 THEN 'follow for more ' || v.id
                                                            ELSE 'best moments' END
        FROM curation_video v, generate_series(1, 2) k WHERE v.dataset_id = %(d)s AND v.id %% 5 = 4
    ''', p)
    split = Split.objects.create(dataset=dataset, name="v1", ratios={"train": 0.8, "val": 0.1, "test": 0.1},
                                 seed=0, verdict_method="mv")
    p["split"] = split.id
    # Grouped by publisher (a publisher's videos share a subset); noise kept out of val/test.
    c.execute('''
        INSERT INTO curation_splitmember (split_id, video_id, subset, is_noise)
        SELECT %(split)s, v.id,
            CASE WHEN s.subset <> 'train' AND vv.label = 'noise' THEN '' ELSE s.subset END,
            coalesce(vv.label = 'noise', false)
        FROM curation_video v
        LEFT JOIN curation_videoverdict vv ON vv.video_id = v.id AND vv.method = 'mv'
        CROSS JOIN LATERAL (SELECT CASE WHEN v.publisher_id %% 10 < 8 THEN 'train'
                                        WHEN v.publisher_id %% 10 = 8 THEN 'val' ELSE 'test' END AS subset) s
        WHERE v.dataset_id = %(d)s
    ''', p)
    c.execute("SELECT subset, count(*) FROM curation_splitmember WHERE split_id = %(split)s "
              "GROUP BY subset", p)
    split.sizes = {name: n for name, n in c.fetchall() if name}
    split.frozen_at = timezone.now()
    split.save(update_fields=["sizes", "frozen_at"])
for table in ("curation_video", "curation_splitmember", "curation_videoverdict", "curation_videosubtitle",
              "curation_subtitlecue", "curation_publisher"):
    with connection.cursor() as c:
        c.execute(f"ANALYZE {table}")
print(dataset.id)
"""

# Raw deletes in dependency order: the ORM's cascade would load 250,000 videos into memory.
CLEANUP = """
import sys
import django
django.setup()
from django.db import connection, transaction
from curation.models import Dataset
for dataset in Dataset.objects.filter(slug=sys.argv[1]):
    p = {"d": dataset.id}
    with transaction.atomic(), connection.cursor() as c:
        videos = "SELECT id FROM curation_video WHERE dataset_id = %(d)s"
        c.execute("DELETE FROM curation_exportjob WHERE dataset_id = %(d)s", p)
        c.execute("DELETE FROM curation_splitmember WHERE split_id IN "
                  "(SELECT id FROM curation_split WHERE dataset_id = %(d)s)", p)
        c.execute("DELETE FROM curation_split WHERE dataset_id = %(d)s", p)
        for table in ("curation_subtitlecue", "curation_videosubtitle", "curation_videoverdict"):
            c.execute(f"DELETE FROM {table} WHERE video_id IN ({videos})", p)
        c.execute("DELETE FROM curation_aggregationrun WHERE dataset_id = %(d)s", p)
        c.execute("DELETE FROM curation_video WHERE dataset_id = %(d)s", p)
        c.execute("DELETE FROM curation_publisher WHERE dataset_id = %(d)s", p)
        c.execute("DELETE FROM curation_topic WHERE dataset_id = %(d)s", p)
        c.execute("DELETE FROM curation_dataset WHERE id = %(d)s", p)
"""

BACKEND_CPU = """
import sys, time
import django
django.setup()
from django.db import connection
# The export's PostgreSQL backend: the one connection that runs statements for this database
# under the export's application (psycopg sets none: the newest other backend of this database).
with connection.cursor() as c:
    deadline = time.time() + 10
    while time.time() < deadline:
        c.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                  "AND pid <> pg_backend_pid() AND backend_type = 'client backend' "
                  "ORDER BY backend_start DESC")
        row = c.fetchone()
        if row:
            print(row[0])
            break
        time.sleep(0.05)
"""


def _child(code: str, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=ROOT, capture_output=True, text=True,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings"},
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"child failed:\n{done.stderr[-3000:]}")
    return done.stdout.strip()


def _manage(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args], cwd=ROOT, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return done.stdout


def _export(slug: str, fmt: str, rows: int) -> dict:
    export = ["export_dataset", "--dataset", slug, "--split", "v1", "--format", fmt, "--no-progress"]
    command = ["/usr/bin/time", "-f", "%M %U %S %e", sys.executable, str(ROOT / "manage.py"), *export]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    backend = int(_child(BACKEND_CPU) or 0)
    backend_cpu = 0.0
    while process.poll() is None:  # the backend's CPU, sampled until the export ends
        sample = cpu_seconds(backend) if backend else None
        if sample is not None:  # the backend is still there
            backend_cpu = sample
        time.sleep(0.2)
    stdout, stderr = process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"export {fmt} failed:\n{stderr[-3000:]}")
    # The child's own wall seconds (%e): the backend lookup above must not count.
    peak_kb, user, system, elapsed = stderr.strip().splitlines()[-1].split()
    seconds = float(elapsed)
    folder = Path(stdout.strip().splitlines()[-1]).parent
    files = json.loads((folder / "manifest.json").read_text())["files"]
    exported = json.loads((folder / "manifest.json").read_text())["rows"]["videos"]
    assert exported == rows, (exported, rows)
    size = sum(info["bytes"] for info in files.values())
    return {
        "rows": exported,
        "seconds": round(seconds, 2),
        "rows_per_s": round(exported / seconds),
        "peak_rss_mb": round(int(peak_kb) / 1024, 1),
        "cpu_seconds_export_process": round(float(user) + float(system), 2),
        "rows_per_cpu_s": round(exported / (float(user) + float(system))),
        "cpu_seconds_postgres_backend": round(backend_cpu, 2),
        "megabytes_written": round(size / 1e6, 1),
        "folder": str(folder),
    }


def _make_split(slug: str) -> dict:
    """`make_split` on the same 250,000 videos (the service, not the SQL shortcut GENERATE uses)."""
    command = ["/usr/bin/time", "-f", "%M %U %S %e", sys.executable, str(ROOT / "manage.py"), "make_split",
               "--dataset", slug, "--name", "v2", "--ratios", "0.8,0.1,0.1", "--seed", "0"]  # fmt: skip
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"make_split failed:\n{done.stderr[-3000:]}")
    peak_kb, user, system, elapsed = done.stderr.strip().splitlines()[-1].split()
    return {
        "seconds": float(elapsed),
        "peak_rss_mb": round(int(peak_kb) / 1024, 1),
        "cpu_seconds": round(float(user) + float(system), 2),
        "output": done.stdout.strip().splitlines()[:2],
    }


def run() -> dict:
    _manage("migrate", "--no-input", "-v0")
    slug = f"bench-export-{time.strftime('%H%M%S')}"
    _manage("create_dataset", slug, "--taxonomy", "usv")
    results, generate_seconds, split = {}, 0.0, {}
    try:
        started = time.perf_counter()
        _child(GENERATE, slug, str(VIDEOS))
        generate_seconds = time.perf_counter() - started
        rows = int(_child(
            "import django, sys; django.setup()\nfrom curation.models import SplitMember\n"
            "print(SplitMember.objects.filter(split__dataset__slug=sys.argv[1]).exclude(subset='').count())",
            slug,
        ))  # fmt: skip
        for fmt in FORMATS:
            results[fmt] = _export(slug, fmt, rows)
        split = _make_split(slug)
    finally:
        _child(CLEANUP, slug)
        for result in results.values():  # the dataset's export folder holds only this run's exports
            shutil.rmtree(Path(result.pop("folder")).parent, ignore_errors=True)
    slowest = min(r["rows_per_s"] for r in results.values())
    return {
        "benchmark": "export",
        "videos": VIDEOS,
        "generate_seconds": round(generate_seconds, 1),
        "formats": results,
        "make_split": split,
        "label_studio_reference": LABEL_STUDIO,
        "summary": {
            **{f"{fmt}_rows_per_s": r["rows_per_s"] for fmt, r in results.items()},
            **{f"{fmt}_peak_rss_mb": r["peak_rss_mb"] for fmt, r in results.items()},
            "x_label_studio_rate_slowest": round(slowest / LABEL_STUDIO["rows_per_s"], 1),
            "make_split_seconds": split.get("seconds"),
            "make_split_peak_rss_mb": split.get("peak_rss_mb"),
            "target": f">= 20x Label Studio ({TARGET_ROWS_PER_S:,} rows/s), < 300 MB",
        },
    }


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))

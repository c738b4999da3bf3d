"""`make bench`: run the benchmarks, write bench/results/<name>.json, print a summary.

Usage: python bench/run.py [NAME ...]   (default: all)
"""

import importlib
import json
import os
import platform
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
BENCHMARKS = [
    "bench_ingest",
    "bench_aggregate",
    "bench_frames",
    "bench_flags",
    "bench_annotation",
    "bench_ocr",
    "bench_models",
    "bench_active",
    "bench_export",
]


def python_speed_ms() -> float:
    """Milliseconds for a fixed piece of pure Python (best of five): this shared machine's speed
    changes between sessions (1.5-2x), so results of different days are compared through it."""
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        total = 0
        for number in range(1_000_000):
            total += number
        best = min(best, time.perf_counter() - started)
    return round(best * 1000, 1)


def main(names: list[str]) -> None:
    results = HERE / "results"
    results.mkdir(exist_ok=True)
    for name in names or BENCHMARKS:
        module = importlib.import_module(f"bench.{name}")
        started = time.time()
        load_before = os.getloadavg()[0]  # other work on the machine skews every timing
        speed_before = python_speed_ms()
        result = module.run()
        result["machine"] = {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_avg_1min_before": round(load_before, 2),
            "python_loop_ms_before_after": [speed_before, python_speed_ms()],
        }
        result["ran_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started))
        out = results / f"{name.removeprefix('bench_')}.json"
        out.write_text(json.dumps(result, indent=2) + "\n")
        print(f"{name}: {json.dumps(result['summary'])}\n  -> {out.relative_to(HERE.parent)}")


if __name__ == "__main__":
    main(sys.argv[1:])

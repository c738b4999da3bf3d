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
    "bench_annotation",
    "bench_ocr",
    "bench_export",
]


def main(names: list[str]) -> None:
    results = HERE / "results"
    results.mkdir(exist_ok=True)
    for name in names or BENCHMARKS:
        module = importlib.import_module(f"bench.{name}")
        started = time.time()
        load_before = os.getloadavg()[0]  # other work on the machine skews every timing
        result = module.run()
        result["machine"] = {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_avg_1min_before": round(load_before, 2),
        }
        result["ran_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started))
        out = results / f"{name.removeprefix('bench_')}.json"
        out.write_text(json.dumps(result, indent=2) + "\n")
        print(f"{name}: {json.dumps(result['summary'])}\n  -> {out.relative_to(HERE.parent)}")


if __name__ == "__main__":
    main(sys.argv[1:])

"""What the benches read of their processes: CPU seconds and resident memory from /proc (unlike
wall time, other load on the shared machine does not inflate CPU time, so the benches report it
beside their timings), and when a server they started accepts connections."""

import os
import socket
import subprocess
import time
from pathlib import Path


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of a process so far (fields 14 and 15 of /proc/<pid>/stat, in
    clock ticks), or None when it is gone or not readable (a server process of another user)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tree_rss_kb(pid: int) -> int:
    """Resident kB of a process's descendants (bench_ingest: time → manage.py → its parsing
    process), found through /proc/<pid>/task/<pid>/children: cheap enough to sample often."""
    total, todo = 0, children(pid)
    while todo:
        current = todo.pop()
        total += rss_kb(current)
        todo.extend(children(current))
    return total


def rss_kb(pid: int) -> int:
    """Resident kB of one process (0 when it is gone)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    line = next((x for x in status.splitlines() if x.startswith("VmRSS:")), "VmRSS: 0 kB")
    return int(line.split()[1])


def children(pid: int) -> list[int]:
    """Pids of a process's children (those its main thread started)."""
    try:
        return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def wait_listening(process: subprocess.Popen, port: int, *, name: str, seconds: float) -> subprocess.Popen:
    """The server `process` once it accepts connections on 127.0.0.1:`port`; killed, and an error
    raised, when it exits or `seconds` pass first."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return process
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError(f"{name} did not start") from None
            time.sleep(0.2)

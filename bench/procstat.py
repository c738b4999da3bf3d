"""CPU seconds of a process from /proc: unlike wall time, other load on the shared machine does
not inflate it, so the benches report it beside their timings."""

import os
from pathlib import Path


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of a process so far (fields 14 and 15 of /proc/<pid>/stat, in
    clock ticks), or None when it is gone or not readable (a server process of another user)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

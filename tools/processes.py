"""The processes of a collector, and the CPU they used, read from /proc (Linux)."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

# How the collector starts its deriver's process (on SQLite): the rest of its children are
# webhook workers.
DERIVER_MODULE = "logistis.collector.deriver_main"


def child_pids(parent: int) -> list[int]:
    """The processes whose parent is `parent` (`/proc/*/stat`)."""
    children = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):  # a process that ended meanwhile
            if (entry / "stat").read_text().rpartition(")")[2].split()[1] == str(parent):
                children.append(int(entry.name))
    return children


def cpu_seconds(pids: list[int]) -> float:
    """User and system CPU the processes have used so far (all their threads, those ended too)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
            total += int(fields[11]) + int(fields[12])
    return total / ticks


def derives(pid: int) -> bool:
    """Whether the process is a collector's deriver process."""
    try:
        return DERIVER_MODULE in (Path(f"/proc/{pid}/cmdline").read_text().split("\0"))
    except OSError:  # ended meanwhile
        return False

"""The processes of a collector, and the CPU they used, read from /proc (Linux)."""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.support.processes import child_pids, runs, stat_fields

# How the collector starts its deriver's process (on SQLite): the rest of its children are
# webhook workers.
DERIVER_MODULE = "logistis.collector.deriver_main"

__all__ = ["child_pids", "cpu_seconds", "derives"]


def cpu_seconds(pids: list[int]) -> float:
    """User and system CPU the processes have used so far (all their threads, those ended too)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            fields = stat_fields(pid)
            total += int(fields[11]) + int(fields[12])
    return total / ticks


def derives(pid: int) -> bool:
    """Whether the process is a collector's deriver process."""
    return runs(pid, DERIVER_MODULE)

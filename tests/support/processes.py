"""Processes read from /proc (Linux): a process's children, what they run, whether they live.
Shared by the tests and the tools that measure a collector's processes."""

from __future__ import annotations

import os
from pathlib import Path


def child_pids(parent: int, module: str | None = None) -> list[int]:
    """The processes whose parent is `parent`; with `module`, those running `python -m module`
    only."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = stat_fields(int(entry.name))[1]
        except OSError:  # ended meanwhile
            continue
        if ppid == str(parent) and (module is None or runs(int(entry.name), module)):
            found.append(int(entry.name))
    return found


def runs(pid: int, module: str) -> bool:
    """Whether the process runs `python -m module` (False once it has ended)."""
    try:
        return module in Path(f"/proc/{pid}/cmdline").read_text().split("\0")
    except OSError:
        return False


def alive(pid: int) -> bool:
    """Running, and not a zombie its parent has not reaped yet."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return stat_fields(pid)[0] != "Z"


def stat_fields(pid: int) -> list[str]:
    """`/proc/<pid>/stat` after the command's name (which may hold spaces and parentheses):
    the state first, then the parent, ... (proc(5)'s third field on); OSError once it ended."""
    return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()

"""The benchmark's CPU of a collector: its child processes (the webhook workers of
`--workers N`) count as its own, apart from the threads of the process started."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

TOOLS = Path(__file__).resolve().parents[2] / "tools"
# A child that uses this much CPU, then waits to be ended.
BURN_SECONDS = 0.3
_BURN = f"""
import time
started = time.process_time()
while time.process_time() - started < {BURN_SECONDS}:
    pass
print("burnt", flush=True)
time.sleep(60)
"""


@pytest.fixture
def bench(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    # tools/bench.py imports its neighbours as it runs: from the tools directory.
    monkeypatch.syspath_prepend(str(TOOLS))
    return importlib.import_module("bench")


@pytest.fixture
def burnt_child() -> Iterator[int]:
    """A child process of this one that has used BURN_SECONDS of CPU."""
    child = subprocess.Popen([sys.executable, "-c", _BURN], stdout=subprocess.PIPE)
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == b"burnt"
        yield child.pid
    finally:
        child.kill()
        child.wait()


def test_a_child_process_is_found_by_its_parent(bench: ModuleType, burnt_child: int) -> None:
    assert burnt_child in bench.child_pids(os.getpid())
    assert os.getpid() not in bench.child_pids(os.getpid())


def test_the_children_cpu_is_the_workers_part(bench: ModuleType, burnt_child: int) -> None:
    own = time.process_time()
    used = bench.thread_cpu(os.getpid())
    assert set(used) == {"event loop", "writer", "deriver", "other", "workers"}
    # Other tests' children of this process may add theirs; none takes any away.
    assert used["workers"] >= BURN_SECONDS * 0.9
    # The threads of this process are counted apart: at most what it has used itself.
    threads = sum(seconds for part, seconds in used.items() if part != "workers")
    assert threads <= own + 0.05

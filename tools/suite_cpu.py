"""Where the test suite's CPU goes: each test's CPU, in its worker and in the processes it
started (collectors, PostgreSQL, kubectl-blame, chromium, pip), test by test and file by file.

Run the suite with this module as a pytest plugin, then read what it wrote:

    PYTHONPATH=tools .venv/bin/python -m pytest -q -n 3 -p suite_cpu
    .venv/bin/python tools/suite_cpu.py [--top 30]

Each worker appends a line per test to `.suite-cpu/<pid>.jsonl`; a run starts with the folder
emptied. A child's CPU counts once the process has been waited for, so a session fixture's
collector or PostgreSQL server is counted in the test that was running when it was stopped; a
test's wall time beyond its CPU is waiting, for its processes or for the other workers' use of
the cores.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import resource
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

FOLDER = Path(".suite-cpu")


def _cpu(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def pytest_configure(config: pytest.Config) -> None:
    if not hasattr(config, "workerinput"):  # the run itself, not one of its xdist workers
        shutil.rmtree(FOLDER, ignore_errors=True)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    started = time.monotonic()
    own, children = _cpu(resource.RUSAGE_SELF), _cpu(resource.RUSAGE_CHILDREN)
    yield
    line = {
        "test": item.nodeid,
        "wall": time.monotonic() - started,
        "own": _cpu(resource.RUSAGE_SELF) - own,
        "children": _cpu(resource.RUSAGE_CHILDREN) - children,
    }
    FOLDER.mkdir(exist_ok=True)
    with (FOLDER / f"{os.getpid()}.jsonl").open("a") as out:
        out.write(json.dumps(line) + "\n")


def _report(top: int) -> None:
    tests = [json.loads(line) for path in FOLDER.glob("*.jsonl") for line in path.open()]
    if not tests:
        raise SystemExit(f"nothing in {FOLDER}/: run the suite with `-p suite_cpu` first")
    own = sum(t["own"] for t in tests)
    children = sum(t["children"] for t in tests)
    print(f"{len(tests)} tests: {own + children:.0f} CPU-s, {own:.0f} in the workers and"
          f" {children:.0f} in the processes they started")  # fmt: skip
    own_by_file: collections.Counter[str] = collections.Counter()
    children_by_file: collections.Counter[str] = collections.Counter()
    tests_by_file: collections.Counter[str] = collections.Counter()
    for test in tests:
        name = test["test"].split("::")[0]
        own_by_file[name] += test["own"]
        children_by_file[name] += test["children"]
        tests_by_file[name] += 1
    print(f"\nthe {top} files that cost most: CPU-s (workers + children), tests")
    ranked = sorted(tests_by_file, key=lambda name: -own_by_file[name] - children_by_file[name])
    for name in ranked[:top]:
        mine, theirs = own_by_file[name], children_by_file[name]
        print(
            f"{mine + theirs:7.1f} ({mine:6.1f} + {theirs:6.1f}) {tests_by_file[name]:4d}  {name}"
        )
    print(f"\nthe {top} tests that cost most: CPU-s (workers + children), wall s")
    for test in sorted(tests, key=lambda t: -t["own"] - t["children"])[:top]:
        cpu = test["own"] + test["children"]
        print(f"{cpu:6.1f} ({test['own']:5.1f} + {test['children']:5.1f}) {test['wall']:5.1f}"
              f"  {test['test']}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--top", type=int, default=30, help="files and tests listed")
    _report(parser.parse_args().top)


if __name__ == "__main__":
    main()

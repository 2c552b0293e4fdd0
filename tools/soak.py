"""`make soak`: the reliability suite at full strength, and the figures it reached.

The tests in tests/reliability run briefly in `make test`; here every knob is turned up
(hundreds of kill -9 rounds, thousands of fuzz cases, hundreds of stream followers) and the
whole suite can be repeated. Each test reports what it survived; the totals are printed at
the end, and the exit status is pytest's.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KNOBS = {
    "kill_rounds": (200, "kill -9 rounds under load"),
    "fuzz_examples": (5000, "hypothesis examples per fuzz test"),
    "stream_clients": (500, "concurrent /api/v1/stream followers"),
    "stuck_clients": (300, "followers that never read"),
    "vanishing_clients": (2000, "followers that reset the connection mid-response"),
    "slow_peers": (200, "slow-loris connections of each kind"),
    "large_reviews": (100, "valid updates of 1.6-2 MB (60,000 keys or 150,000 items changed)"),
}
# Figures that add up over repeats; the others are shown as their range.
SUMMED = ("rounds", "events", "cases")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name, (default, meaning) in KNOBS.items():
        flag = "--" + name.replace("_", "-")
        parser.add_argument(flag, type=int, default=default, help=f"{meaning} (default {default})")
    parser.add_argument("--repeat", type=int, default=1, help="run the suite this many times")
    parser.add_argument("pytest_args", nargs="*", help="extra pytest arguments (after --)")
    return parser.parse_args()


def raise_file_limit() -> None:
    """Hundreds of followers and slow peers need more descriptors than a shell may allow."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def run_suite(args: argparse.Namespace, report: Path) -> int:
    env = {**os.environ, "LOGISTIS_SOAK_REPORT": str(report)}
    for name in KNOBS:
        env[f"LOGISTIS_SOAK_{name.upper()}"] = str(getattr(args, name))
    command = [
        sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
        "--timeout", "0", "tests/reliability", *args.pytest_args,
    ]  # fmt: skip
    return subprocess.run(command, cwd=ROOT, env=env, check=False).returncode


def totals(report: Path) -> dict[str, str]:
    values: dict[str, list[float]] = defaultdict(list)
    for line in report.read_text().splitlines() if report.exists() else []:
        entry = json.loads(line)
        values[entry["figure"]].append(entry["value"])
    return {
        name: f"{sum(found):g}"
        if any(word in name for word in SUMMED)
        else f"{min(found):g}" + (f" to {max(found):g}" if max(found) != min(found) else "")
        for name, found in values.items()
    }


def main() -> int:
    args = parse_args()
    raise_file_limit()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="logistis-soak-") as scratch:
        report = Path(scratch, "figures.jsonl")
        status = 0
        for run in range(1, args.repeat + 1):
            print(f"soak run {run}/{args.repeat}", flush=True)
            status = run_suite(args, report) or status
        figures = totals(report)
    print(f"\nsoak {'passed' if status == 0 else 'FAILED'} in {time.monotonic() - started:.0f}s")
    for name, value in sorted(figures.items()):
        print(f"  {name}: {value}")
    return status


if __name__ == "__main__":
    sys.exit(main())

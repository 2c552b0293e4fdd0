"""The CPU a commit group costs per event, on both stores, at the group sizes given.

Each store is filled first (`--fill` events, in groups of 64), then records `--events` more
in groups of each size, through the store's own `record` (the writer's call), the events a
tenth of a second apart. On SQLite the whole cost is the process's (its write thread
included); on PostgreSQL the collector's process and the server's processes are counted
apart. With `--checkout DIR` the stores of another checkout of logistis are measured (the
same events and steps): the cost before a change, beside this checkout's after it.

    .venv/bin/python tools/write_cost.py [--events 3000] [--fill 20000] [--groups 1 16]
                                         [--checkout DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=3000)
    parser.add_argument("--fill", type=int, default=20_000)
    parser.add_argument("--groups", type=int, nargs="+", default=[1, 16])
    parser.add_argument("--checkout", type=Path, default=ROOT)
    args = parser.parse_args()
    sys.path.insert(0, str(args.checkout.resolve()))
    from tests.support.postgres import PostgresServer

    print(f"checkout {args.checkout}: CPU per event recorded, µs")
    print("| store | group | collector µs/event | server µs/event |")
    print("|---|---|---|---|")
    with tempfile.TemporaryDirectory() as work, PostgresServer.temporary() as server:
        for size in args.groups:
            sqlite = asyncio.run(cost(sqlite_url(Path(work) / f"{size}.db"), args, size, None))
            print(f"| SQLite | {size} | {sqlite[0]:.0f} | - |", flush=True)
            postgres = asyncio.run(cost(server.create_database(), args, size, server_pid(server)))
            print(f"| PostgreSQL | {size} | {postgres[0]:.0f} | {postgres[1]:.0f} |", flush=True)


def sqlite_url(path: Path) -> Any:
    from logistis.collector.store import StoreURL

    return StoreURL.sqlite(path)


def server_pid(server: Any) -> int:
    return int((server.data_dir / "postmaster.pid").read_text().split()[0])


def events(count: int, start: datetime, label: str) -> list[Any]:
    """The captured fixtures again and again, each its own object, a tenth of a second apart."""
    from tests.collector.test_store import fixture_events

    fixtures = fixture_events()
    return [
        replace(
            fixtures[n % len(fixtures)],
            uid=f"{label}-{n}",
            time=start + timedelta(milliseconds=100 * n),
            namespace=f"team-{n % 20:02d}",
            name=f"object-{n % 5000}",
        )
        for n in range(count)
    ]


def server_cpu(pid: int | None) -> float:
    if pid is None:
        return 0.0
    processes = [psutil.Process(pid), *psutil.Process(pid).children()]
    total = 0.0
    for process in processes:
        try:
            times = process.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


async def cost(
    url: Any, args: argparse.Namespace, size: int, pid: int | None
) -> tuple[float, float]:
    """(collector, server) CPU µs per event recorded in groups of `size`."""
    from logistis.collector.store import open_store

    start = datetime.now(UTC) - timedelta(days=1)
    async with open_store(url, max_events_per_resource=100) as store:
        filled = events(args.fill, start, "fill")
        for first in range(0, len(filled), 64):
            await store.record(filled[first : first + 64])
        measured = events(args.events, start + timedelta(hours=1), "measured")
        before = time.process_time(), server_cpu(pid)
        for first in range(0, len(measured), size):
            await store.record(measured[first : first + size])
        after = time.process_time(), server_cpu(pid)
    per_event = 1e6 / len(measured)
    return (after[0] - before[0]) * per_event, (after[1] - before[1]) * per_event


if __name__ == "__main__":
    main()

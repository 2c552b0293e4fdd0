"""The CPU a review costs to record and to derive, by the size of the deriver's passes.

A collector's runtime (a fresh SQLite file) is opened in this process without its deriver; the
captured reviews (testdata/admission, fresh uids) are committed `--group` at a
time, and after each group a deriver derives them in one pass. The process's CPU (all its
threads) is summed over the groups' commits and over the passes, after the first 1,000
reviews, and divided by the reviews: what a pass's fixed cost (its reads, its hand-overs, its
save) adds per review when passes are small (one event each at a few reviews a second, a
few at 500/s) against large. The deriver reads the events from the file, as the collector's
own does in its process (`deriver_process.py`).

    .venv/bin/python tools/derive_cost.py [--group 16] [--reviews 5000]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from typing import Any

import uvloop
from commit_latency import admitted, fresh, reviews

from logistis.collector.history.events import Event
from logistis.collector.interpreter import tune_for_serving
from logistis.collector.pipeline.deriver import Deriver
from logistis.collector.runtime import Runtime, open_runtime
from logistis.collector.settings import from_args

WARM_UP = 1000


def events(runtime: Runtime, bodies: list[dict[str, Any]], first: int, count: int) -> list[Event]:
    return [
        admitted(runtime, fresh(bodies[number % len(bodies)]))
        for number in range(first, first + count)
    ]


async def measure(group: int, total: int) -> tuple[float, float, int]:
    """CPU seconds recording, CPU seconds deriving, and the reviews they were counted over."""
    with tempfile.TemporaryDirectory() as data:
        settings = from_args(["--data-dir", data], environ={})
        async with open_runtime(settings, deriving=False) as runtime:
            deriver = Deriver(runtime.store, runtime.writer.committed, runtime.progress)
            bodies, recording, deriving, counted = reviews(), 0.0, 0.0, 0
            try:
                for first in range(0, total, group):
                    batch = events(runtime, bodies, first, group)
                    started = time.process_time()
                    await asyncio.gather(*(runtime.writer.submit(e) for e in batch))
                    committed = time.process_time()
                    while not await deriver.derive_once():
                        pass
                    if first >= WARM_UP:
                        recording += committed - started
                        deriving += time.process_time() - committed
                        counted += group
            finally:
                await deriver.close()
    return recording, deriving, counted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--group", type=int, default=16, help="reviews per commit and pass")
    parser.add_argument("--reviews", type=int, default=5000)
    args = parser.parse_args()
    tune_for_serving()  # as the collector runs
    recording, deriving, counted = uvloop.run(measure(args.group, args.reviews + WARM_UP))
    print(f"{counted} reviews in groups of {args.group}: recording {recording / counted * 1e6:.0f}"
          f" µs, deriving {deriving / counted * 1e6:.0f} µs of CPU per review")  # fmt: skip


if __name__ == "__main__":
    main()

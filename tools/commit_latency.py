"""How long a review waits for its commit, without HTTP: the writer and the deriver alone.

A collector's runtime (a fresh SQLite file, the settings' defaults) is opened in this process,
its deriver in a process of its own as the collector runs it; the captured reviews
(testdata/admission, fresh uids) are decoded, redacted and submitted to its writer at `--rate` a
second for `--seconds`, each timed from its decoding to its commit, as the webhook waits for
it, and the CPU per review of both processes (all their threads) over the same span. With
`--without-deriver` no deriver runs: what the store path costs alone, against what the
deriver's passes beside it add.

    .venv/bin/python tools/commit_latency.py [--rate 500] [--seconds 8] [--without-deriver]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import uvloop
from processes import child_pids, cpu_seconds

from logistis.collector.admission.review import event_from_request, read_review
from logistis.collector.history.events import Event
from logistis.collector.interpreter import tune_for_serving
from logistis.collector.runtime import Runtime, open_runtime
from logistis.collector.settings import from_args

FIXTURES = Path(__file__).resolve().parents[1] / "testdata/admission"


def reviews() -> list[dict[str, Any]]:
    files = sorted(FIXTURES.glob("[0-9][0-9][0-9]-*.json"))
    bodies = [orjson.loads(path.read_bytes())["body"] for path in files]
    return [body for body in bodies if not body["request"].get("dryRun")]


def fresh(body: dict[str, Any]) -> bytes:
    """A captured review's body with a uid of its own."""
    return orjson.dumps({**body, "request": {**body["request"], "uid": str(uuid.uuid4())}})


def admitted(runtime: Runtime, raw: bytes) -> Event:
    """The event the webhook makes of a review: decoded, redacted, its kind named."""
    request = runtime.redactor.redact(read_review(raw).request)
    return event_from_request(request, datetime.now(UTC), runtime.kinds)


async def timed(runtime: Runtime, body: dict[str, Any]) -> float:
    raw = fresh(body)
    started = time.perf_counter()
    await runtime.writer.submit(admitted(runtime, raw))
    return time.perf_counter() - started


async def measure(rate: int, seconds: float, without_deriver: bool) -> tuple[list[float], float]:
    """Each counted review's wait, and the CPU seconds of this process and the deriver's while
    they were sent and answered."""
    with tempfile.TemporaryDirectory() as data:
        settings = from_args(["--data-dir", data], environ={})
        async with open_runtime(settings, deriving=not without_deriver) as runtime:
            bodies, waits = reviews(), []
            start, cpu = time.perf_counter(), 0.0
            for number in range(int(rate * seconds)):
                # The first second warms up (caches, the deriver's first passes): not counted.
                if number == rate:
                    cpu = cpu_used()
                await asyncio.sleep(max(0.0, start + number / rate - time.perf_counter()))
                waits.append(asyncio.ensure_future(timed(runtime, bodies[number % len(bodies)])))
            counted = sorted(await asyncio.gather(*waits[rate:]))
            return counted, cpu_used() - cpu


def cpu_used() -> float:
    """CPU seconds of this process and of its children (the deriver's) so far."""
    return time.process_time() + cpu_seconds(child_pids(os.getpid()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=int, default=500, help="reviews a second")
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--without-deriver", action="store_true")
    args = parser.parse_args()
    tune_for_serving()  # as the collector runs
    waits, cpu = uvloop.run(measure(args.rate, args.seconds, args.without_deriver))
    p50, p99 = waits[len(waits) // 2], waits[int(len(waits) * 0.99)]
    deriver = "stopped" if args.without_deriver else "running"
    print(f"{len(waits)} reviews at {args.rate}/s, deriver {deriver}: "
          f"p50 {p50 * 1000:.2f} ms, p99 {p99 * 1000:.2f} ms, "
          f"CPU {cpu / len(waits) * 1e6:.0f} µs per review")  # fmt: skip


if __name__ == "__main__":
    main()

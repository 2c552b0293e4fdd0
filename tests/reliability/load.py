"""Concurrent admission traffic against a real collector, and what the database holds after.

Every review is a real fixture with a fresh request uid and a name of its own (so per-resource
retention never removes one). `Load` remembers which uids got an `allowed: true` answer: those
are the events the collector acknowledged, and every test here checks them against the file.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import itertools
import sqlite3
import ssl
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import aiohttp

from logistis.collector.store import unpack_uid
from tests.support.collector import CollectorProcess
from tests.support.fixtures import bodies

Review = dict[str, Any]


@cache
def recorded_fixtures() -> tuple[Review, ...]:
    """The fixtures the default capture rules record (all but the dry runs)."""
    return tuple(body for body in bodies() if not body["request"]["dryRun"])


def fresh_review(base: Review, uid: str | None = None) -> Review:
    review = copy.deepcopy(base)
    request = review["request"]
    request["uid"] = uid or str(uuid.uuid4())
    request["name"] = f"load-{request['uid']}"
    return review


def reviews() -> Iterator[Review]:
    """An endless supply of distinct reviews, cycling through the recorded fixtures."""
    for base in itertools.cycle(recorded_fixtures()):
        yield fresh_review(base)


@dataclass
class Load:
    """`workers` connections posting reviews back to back until stopped or refused."""

    collector: CollectorProcess
    workers: int = 16
    tls: ssl.SSLContext | None = None
    """Trust for the webhook's certificate; default: the collector's dev certificate."""
    fresh_connections: bool = False
    """A new TLS connection (and handshake) for every review instead of keep-alive."""
    acknowledged: set[str] = field(default_factory=set)
    latencies: list[float] = field(default_factory=list)
    answers: list[int] = field(default_factory=list)
    denied: int = 0
    errors: int = 0
    """Connections that failed; each ends its worker (a killed collector ends them all)."""
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _answered: asyncio.Event = field(default_factory=asyncio.Event)
    _supply: Iterator[Review] = field(default_factory=reviews)

    async def run(self) -> None:
        """Post until `stop()` or until the collector goes away (connection errors end it)."""
        connector = aiohttp.TCPConnector(
            ssl=self.tls or self.collector.ssl_context(),
            limit=self.workers,
            force_close=self.fresh_connections,
        )
        timeout = aiohttp.ClientTimeout(total=15)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
            await asyncio.gather(*(self._worker(session) for _ in range(self.workers)))

    def stop(self) -> None:
        self._stop.set()

    async def answered(self, within: float = 30.0) -> None:
        """Until the collector acknowledged a first review (connecting takes a while on a
        loaded machine)."""
        async with asyncio.timeout(within):
            await self._answered.wait()

    async def _worker(self, session: aiohttp.ClientSession) -> None:
        url = f"{self.collector.webhook_url}?timeout=5s"
        while not self._stop.is_set():
            review = next(self._supply)
            started = time.perf_counter()
            try:
                async with session.post(url, json=review) as response:
                    answer = await response.json()
            except (aiohttp.ClientError, TimeoutError):
                self.errors += 1
                return
            self.latencies.append(time.perf_counter() - started)
            self.answers.append(response.status)
            allowed = answer.get("response", {}).get("allowed")
            if allowed is True:
                self.acknowledged.add(review["request"]["uid"])
                self._answered.set()
            else:
                self.denied += 1

    async def run_for(self, seconds: float) -> Load:
        task = asyncio.create_task(self.run())
        await asyncio.sleep(seconds)
        self.stop()
        await task
        return self


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


# An answer given after the commit timeout is an event dropped and counted, not lost; tests that
# count events against answers give commits all the time they need, so every answer follows one.
PATIENT = ("--commit-timeout", "30")


def database(collector: CollectorProcess) -> Path:
    return collector.data_dir / "logistis.db"


def read_only(database: Path) -> sqlite3.Connection:
    """A connection that cannot change the file, even by a checkpoint."""
    return sqlite3.connect(f"file:{database}?mode=ro", uri=True)


def query(database: Path, statement: str) -> list[tuple[Any, ...]]:
    with contextlib.closing(read_only(database)) as connection:
        return connection.execute(statement).fetchall()


def stored_uids(database: Path) -> set[str]:
    return {unpack_uid(uid) for (uid,) in query(database, "SELECT uid FROM events")}


def event_count(database: Path) -> int:
    return int(query(database, "SELECT count(*) FROM events")[0][0])


def integrity(database: Path) -> str:
    return "; ".join(str(row[0]) for row in query(database, "PRAGMA integrity_check"))


def metric(collector: CollectorProcess, name: str) -> float:
    """The sum of one Prometheus series over all its labels (0 when absent)."""
    with collector.client() as client:
        text = client.get("/metrics").text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith((f"{name} ", f"{name}{{"))
    )


def rss_mib(collector: CollectorProcess) -> float:
    assert collector.process is not None
    for line in Path(f"/proc/{collector.process.pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


@contextlib.contextmanager
def patient_collector(data_dir: Path) -> Iterator[CollectorProcess]:
    """A collector that gives commits all the time they need, and must exit cleanly after."""
    process = CollectorProcess(data_dir, *PATIENT).start()
    try:
        yield process
    finally:
        assert process.stop() == 0, "the collector survives the test and stops cleanly"


async def post_at_once(
    collector: CollectorProcess, bodies: list[Review]
) -> list[tuple[int, str, Any]]:
    """Every review at the same moment, one connection each (up to 32): they share the writer's
    groups. Returns each answer's status, content type and JSON."""
    connector = aiohttp.TCPConnector(ssl=collector.ssl_context(), limit=min(32, len(bodies)))
    async with aiohttp.ClientSession(connector=connector) as session:

        async def post(body: Review) -> tuple[int, str, Any]:
            async with session.post(collector.webhook_url, json=body) as response:
                return response.status, response.content_type, await response.json()

        return await asyncio.gather(*(post(body) for body in bodies))

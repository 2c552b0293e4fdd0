"""The planner's statistics of a young history: the PostgreSQL store analyzes its tables itself
each time the events' ids pass a power of two, from 1,024 to 1,048,576.

A connection plans the statements of a trigger or a function once and keeps the plan until the
statistics of a table it reads change. Autovacuum first analyzes a new database's tables after
its naptime (a minute by default), and then after a tenth of their rows have changed; meanwhile
the statements planned while the tables were nearly empty read them whole. A trimmed event's
provenance row was removed by a hash join over every provenance row, and a pass's provenance
was saved after a scan of every event (BENCHMARKS.md, "The planner's statistics of a young
history"). ANALYZE has every connection plan again, against what the tables hold now. Past a
million events, autovacuum's tenth comes often enough by itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterable

from logistis.collector.store import postgres_connections as connections
from logistis.collector.store.postgres_sql import SERVER_SETTINGS
from logistis.collector.store.protocol import StoreError
from logistis.collector.store.url import StoreURL

log = logging.getLogger(__name__)

FIRST_MARK = 2**10
LAST_MARK = 2**20
# The tables that grow with the events, and that the store's triggers and functions read.
TABLES = (
    "events",
    "provenance",
    "judgements",
    "identities",
    "resources",
    "stats",
    "search_values",
    "insight_activity",
    "insight_users",
    "insight_kinds",
    "outbox",
)
ANALYZE = f"ANALYZE {', '.join(TABLES)}"


def passes_a_mark(before: int, after: int) -> bool:
    """Whether a power of two from FIRST_MARK to LAST_MARK lies in (before, after]: the
    largest power of two up to `after` is above `before` exactly when `after` has more bits."""
    return after >= FIRST_MARK and before < LAST_MARK and after.bit_length() > before.bit_length()


class YoungStatistics:
    """Follows the ids the store gives and analyzes its tables as they pass each mark, in a
    task of its own on a connection of its own: a commit never waits for it."""

    def __init__(self, url: StoreURL) -> None:
        self._url = url
        self._largest: int | None = None
        self._analyzing: asyncio.Task[None] | None = None

    def given(self, ids: Iterable[int | str]) -> None:
        """The ids of a commit group (a refused row's reason is no id); the first group a
        store records sets where its marks start from."""
        if self._largest is not None and self._largest >= LAST_MARK:
            return  # past the last mark: nothing more to look at, group after group
        largest = max((i for i in ids if isinstance(i, int)), default=None)
        if largest is None:
            return
        before, self._largest = self._largest, max(largest, self._largest or 0)
        if before is not None and passes_a_mark(before, largest) and not self._busy():
            self._analyzing = asyncio.create_task(self._analyze(largest), name="analyze")

    def _busy(self) -> bool:
        return self._analyzing is not None and not self._analyzing.done()

    async def _analyze(self, largest: int) -> None:
        started = time.perf_counter()
        try:
            await connections.mapped(self._url, self._run())
        except StoreError as error:
            # Autovacuum analyzes them in time; the history loses nothing meanwhile.
            log.warning("could not analyze the store's tables: %s", error)
            return
        seconds = round(time.perf_counter() - started, 3)
        log.info("analyzed the store's tables", extra={"events": largest, "seconds": seconds})

    async def _run(self) -> None:
        connection = await connections.connect(self._url, SERVER_SETTINGS)
        try:
            await connection.execute(ANALYZE)
        finally:
            await connection.close()

    async def close(self) -> None:
        if self._analyzing is not None:
            self._analyzing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._analyzing

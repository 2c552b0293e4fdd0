"""The PostgreSQL store's commit listener: every collector sharing the database is woken after
each commit group of any of them (a NOTIFY on `COMMIT_CHANNEL`), so its streams read at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from logistis.backoff import Backoff
from logistis.collector.store import postgres_sql as sql
from logistis.collector.store.postgres_connections import DRIVER_ERRORS, connect
from logistis.collector.store.postgres_functions import COMMIT_CHANNEL
from logistis.collector.store.url import StoreURL

# A lost listener connection is tried again after half a second, then after twice as long
# each time up to 15 s (reset once it listens again): a database that is away for minutes
# costs a few attempts, not one a second. A live one is checked this often (a network split
# drops no connection by itself).
LISTEN_RETRY_FIRST_SECONDS = 0.5
LISTEN_RETRY_CAP_SECONDS = 15.0
LISTEN_CHECK_SECONDS = 10.0
# While the database stays away, the listener says so again this often, not at each attempt.
LISTEN_REPORT_SECONDS = 60.0

log = logging.getLogger(__name__)


async def watch_commits(url: StoreURL, wake: Callable[[], None]) -> None:
    """LISTEN on a connection of its own (a pooled one would lose the subscription when
    the pool resets it), and wake after every commit of any collector. When the
    connection is lost it is opened again, with back-off, and wakes once listening:
    whatever was committed while nobody listened is read then, as the streams read by
    id."""
    retry = Backoff(LISTEN_RETRY_FIRST_SECONDS, cap=LISTEN_RETRY_CAP_SECONDS)
    outage = _Outage(asyncio.get_running_loop().time)

    def listening() -> None:
        retry.reset()
        outage.ended()
        wake()

    while True:
        try:
            await _listen(url, wake, listening)
            reason = "the server closed the connection"
        except DRIVER_ERRORS as error:
            reason = url.hide(str(error) or type(error).__name__)
        outage.failed(reason)
        await asyncio.sleep(retry.next())


async def _listen(url: StoreURL, wake: Callable[[], None], listening: Callable[[], None]) -> None:
    connection = await connect(url, sql.LISTENER_SETTINGS)
    lost = asyncio.Event()
    connection.add_termination_listener(lambda _: lost.set())
    try:
        await connection.add_listener(COMMIT_CHANNEL, lambda *_: wake())
        listening()
        while not lost.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(lost.wait(), LISTEN_CHECK_SECONDS)
            if not lost.is_set():
                await connection.execute(sql.KEEPALIVE)
    finally:
        connection.terminate()


class _Outage:
    """What the commit listener logs while it cannot listen: a warning at the first failure,
    then one a minute while the database stays away, and a line when it listens again."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._since: float | None = None
        self._reported = 0.0
        self._attempts = 0

    def failed(self, reason: str) -> None:
        now = self._clock()
        self._attempts += 1
        if self._since is None:
            self._since = self._reported = now
            log.warning("commit listener lost the database, reconnecting", extra={"error": reason})
        elif now - self._reported >= LISTEN_REPORT_SECONDS:
            self._reported = now
            log.warning(
                "commit listener still cannot reach the database",
                extra={"error": reason, "attempts": self._attempts, "seconds": self._for(now)},
            )

    def ended(self) -> None:
        if self._since is not None:
            log.info(
                "commit listener listening again",
                extra={"attempts": self._attempts, "seconds": self._for(self._clock())},
            )
        self._since, self._attempts = None, 0

    def _for(self, now: float) -> float:
        """Seconds since the first failure."""
        return round(now - (self._since if self._since is not None else now), 1)

"""Group commit: one task drains the queue of admitted events and commits them together.

A webhook request waits only for its own event's commit, and many requests share one
transaction, so durability costs one fsync per group rather than per request.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING

from logistis.collector.errors import CollectorError
from logistis.collector.history.events import Event
from logistis.collector.store import NotStored, StoreError, WriterStore

if TYPE_CHECKING:
    # The deriver's process imports this module (for CommitSignal) and keeps no metrics: it is
    # spared prometheus_client (~50 ms of every start).
    from logistis.collector.metrics import Metrics

log = logging.getLogger(__name__)

# A writer loop that failed unexpectedly starts again after this pause.
RESTART_SECONDS = 0.1
# Without a --commit-timeout, as the settings' default.
COMMIT_TIMEOUT_SECONDS = 2.0
# Why a request was answered before its event's commit: the writer commits the event later, and
# counts it then as late (or dropped, if its commit fails).
COMMIT_TIMEOUT = "commit timeout"


class NotRecorded(CollectorError):
    """The event could not be queued or committed; the request is still allowed."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class CommitSignal:
    """Wakes every waiter after each commit; waiters re-read the store themselves.

    A reader takes `next_commit()` *before* it reads and waits on it afterwards, so a commit
    that lands while it reads wakes it at once instead of being missed.
    """

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def fire(self) -> None:
        self._event.set()
        self._event = asyncio.Event()

    def next_commit(self) -> asyncio.Event:
        """Set by the first commit from now on."""
        return self._event

    @staticmethod
    async def wait(commit: asyncio.Event, seconds: float) -> bool:
        """True if `commit` happened (or happens within `seconds`)."""
        try:
            await asyncio.wait_for(commit.wait(), seconds)
        except TimeoutError:
            return False
        return True


@dataclass(slots=True)
class _Pending:
    event: Event
    committed: asyncio.Future[None]
    deadline: float
    answered: bool = False
    """Its request was answered at the commit timeout: the writer counts what becomes of it."""


class Writer:
    def __init__(
        self,
        store: WriterStore,
        metrics: Metrics,
        *,
        queue_size: int = 10_000,
        max_batch: int = 512,
        commit_timeout: float = COMMIT_TIMEOUT_SECONDS,
    ) -> None:
        self._store = store
        self._metrics = metrics
        self._queue: asyncio.Queue[_Pending | None] = asyncio.Queue(queue_size)
        self._max_batch = max_batch
        self._timeout = commit_timeout
        self._loop: asyncio.AbstractEventLoop | None = None
        # Every submitted event not yet settled, oldest (first to time out) first, and one timer
        # for the oldest: a timer per review cost a third of the webhook's own work per answer.
        self._waiting: deque[_Pending] = deque()
        self._timer: asyncio.TimerHandle | None = None
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._stop_seen = False
        self.committed = CommitSignal()
        self.last_error: str | None = None
        self.crashed: str | None = None
        """The unexpected error that stopped the loop, until the loop runs again."""

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._task = self._loop.create_task(self._supervise(), name="writer")

    def submit(self, event: Event) -> asyncio.Future[None]:
        """Queue an event; the returned future resolves when it is committed, or fails with
        NotRecorded (COMMIT_TIMEOUT once the commit has taken longer than the timeout: the
        writer still commits the event later and counts it late, or dropped if that fails)."""
        if self._closing:
            raise NotRecorded("shutting down")
        loop = self._loop or asyncio.get_running_loop()
        pending = _Pending(event, loop.create_future(), loop.time() + self._timeout)
        try:
            self._queue.put_nowait(pending)
        except asyncio.QueueFull:
            raise NotRecorded("queue full") from None
        self._waiting.append(pending)
        if self._timer is None:
            self._timer = loop.call_at(pending.deadline, self._give_up)
        return pending.committed

    def _give_up(self) -> None:
        """Fail the waiters whose commit outlived the timeout; wait for the next oldest."""
        self._timer = None
        waiting = self._waiting
        loop = self._loop or asyncio.get_running_loop()
        now = loop.time()
        while waiting and (waiting[0].committed.done() or waiting[0].deadline <= now):
            pending = waiting.popleft()
            pending.answered = not pending.committed.done()
            _settle(pending.committed, NotRecorded(COMMIT_TIMEOUT))
        if waiting:
            self._timer = loop.call_at(waiting[0].deadline, self._give_up)

    async def close(self) -> None:
        """Stop accepting, commit everything already queued, stop the task."""
        self._closing = True
        if self._task is not None:
            await self._queue.put(None)
            await self._task
        if self._timer is not None:
            self._timer.cancel()

    async def recover(self) -> None:
        """Clear a commit failure once a write of our own commits (the disk has room again,
        the database is back)."""
        await self._store.probe_write()
        self.last_error = None

    @property
    def running(self) -> bool:
        """The loop is taking events (not between a failure and its restart, not ended)."""
        return self.crashed is None and self._task is not None and not self._task.done()

    async def _supervise(self) -> None:
        """Run the loop; whatever it raises is logged at once and the loop starts again."""
        while True:
            try:
                await self._run()
            except Exception as error:  # noqa: BLE001 - the writer outlives any failure; logged
                if self.crashed is None:
                    self._crash(error)
                await asyncio.sleep(RESTART_SECONDS)
                if not self._stop_seen:
                    continue
            return

    async def _run(self) -> None:
        # Groups in flight at once (the store says how many): the next one is taken from the
        # queue only when it may start, so it gathers every event that came meanwhile.
        in_flight: set[asyncio.Task[None]] = set()
        self.crashed = None
        try:
            while True:
                while len(in_flight) >= self._store.concurrent_commits:
                    done, in_flight = await asyncio.wait(
                        in_flight, return_when=asyncio.FIRST_COMPLETED
                    )
                    for task in done:
                        task.result()
                batch, stop = await self._next_batch()
                if batch:
                    in_flight.add(asyncio.create_task(self._commit(batch)))
                if stop:
                    return
        finally:
            # Whatever ends the loop, the groups already taken finish: each settles its own
            # waiters and logs its own failure.
            await asyncio.gather(*in_flight, return_exceptions=True)

    async def _next_batch(self) -> tuple[list[_Pending], bool]:
        first = await self._queue.get()
        if first is None:
            self._stop_seen = True
            return [], True
        batch = [first]
        while len(batch) < self._max_batch and not self._queue.empty():
            item = self._queue.get_nowait()
            if item is None:
                self._stop_seen = True
                return batch, True
            batch.append(item)
        return batch, False

    async def _commit(self, batch: list[_Pending]) -> None:
        try:
            # The change summary and compression happen in the store's write thread, off the
            # event loop, in the same hand-over as the transaction.
            outcomes = await self._store.record([pending.event for pending in batch])
        except (StoreError, OSError) as error:
            self._fail(batch, error)
            # A full disk, a locked file, a database away: pause briefly so a stuck store is not
            # hammered.
            await asyncio.sleep(0.2)
            return
        except BaseException as error:
            if isinstance(error, Exception):
                # Before its waiters hear of it: by then the writer is known not to be running.
                self._crash(error)
            # Nobody waits out the commit timeout for a loop that is restarting.
            for pending in batch:
                self._not_recorded(pending, "internal error")
            self._forget_settled()
            raise
        self.last_error = None
        recorded = late = 0
        for pending, outcome in zip(batch, outcomes, strict=True):
            if outcome is None:
                recorded += 1
                late += pending.answered
                _settle(pending.committed, None)
            else:
                self._left_out(pending, outcome)
        self._forget_settled()
        if late:
            self._metrics.events_late.inc(late)
        if recorded:
            self._metrics.events_recorded.inc(recorded)
            self._metrics.commit_batch_size.observe(recorded)
            self.committed.fire()

    def _crash(self, error: Exception) -> None:
        """An unexpected error: the loop stops and starts again; logged at once."""
        self.crashed = f"{type(error).__name__}: {error}"
        log.exception("writer failed, restarting", extra={"error": self.crashed})

    def _fail(self, batch: list[_Pending], error: Exception) -> None:
        self.last_error = f"{type(error).__name__}: {error}"
        log.error(
            "commit failed, events not recorded",
            extra={"error": self.last_error, "events": len(batch), "at": time.time()},
        )
        for pending in batch:
            self._not_recorded(pending, "store error")
        self._forget_settled()

    def _left_out(self, pending: _Pending, outcome: NotStored) -> None:
        """One event the store could not take; the webhook counts it under `outcome.reason`."""
        log.warning(
            "event not stored, the rest of its group committed",
            extra={"uid": pending.event.uid, "reason": outcome.reason, "error": outcome.error},
        )
        self._not_recorded(pending, outcome.reason)

    def _not_recorded(self, pending: _Pending, reason: str) -> None:
        """Fail the waiter; an event whose request was answered already is counted dropped
        here, as its waiter would have."""
        if pending.answered:
            self._metrics.events_dropped.labels(reason).inc()
        _settle(pending.committed, NotRecorded(reason))

    def _forget_settled(self) -> None:
        """Drop the settled waiters at the head: groups settle in the order they were queued,
        so nothing holds an event long after its commit."""
        waiting = self._waiting
        while waiting and waiting[0].committed.done():
            waiting.popleft()


def _settle(future: asyncio.Future[None], outcome: NotRecorded | None) -> None:
    """Resolve a waiter unless its request already gave up on it (a commit timeout)."""
    if future.done():
        return
    if outcome is None:
        future.set_result(None)
    else:
        future.set_exception(outcome)

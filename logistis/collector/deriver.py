"""Derived fields, filled in after the commit.

The webhook answers once its event's raw columns are durable; the change summary is computed
afterwards from the stored objects. The deriver follows the writer's commits, reads the events
it has not reached (oldest first, a batch at a time), computes their summaries off the event
loop and saves each batch in one transaction with its mark. Under a burst it falls behind and
catches up; a reader that reaches an event first computes the same summary itself
(`collector.store.rows`), so nobody sees an event without it. The mark is kept in the store:
a collector stopped before deriving derives on its next start.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence

from logistis.collector.metrics import Metrics
from logistis.collector.store import Store, StoreError, Underived
from logistis.collector.store.rows import derive_changes
from logistis.collector.threads import worker
from logistis.collector.writer import CommitSignal

log = logging.getLogger(__name__)

# Events per transaction: a few milliseconds of the write thread's time, so a commit group
# never waits long behind one.
BATCH = 64
# With nothing to derive (events committed with their summaries), the mark is saved only this
# many ids ahead: enough that a restart does not read far, not a write after every commit.
SAVE_MARK_EVERY = 10_000
# A store that failed is tried again after this pause.
RETRY_SECONDS = 1.0


class Deriver:
    def __init__(self, store: Store, committed: CommitSignal, metrics: Metrics) -> None:
        self._store = store
        self._committed = committed
        self._metrics = metrics
        # Where it stands (-1: where the store says), and what the store last heard of it.
        self._mark = -1
        self._saved = 0
        self._task: asyncio.Task[None] | None = None
        self.ready: CommitSignal = CommitSignal() if store.derives_after_commit else committed
        """Fires when committed events can be read with their derived fields: after each pass
        of the deriver where it follows the commits, else with each commit. The stream
        follows it, so its reads find the summaries stored rather than compute them."""
        # A thread of its own: the summaries are computed off the event loop, one batch at a
        # time, never in the executor the reads use.
        self._thread = worker("deriver")

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="deriver")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._thread.shutdown(wait=True)

    async def derive_once(self) -> int:
        """Derive one batch; returns how many events it derived (fewer than BATCH: caught up
        with every commit that had landed when it read)."""
        events, newest = await self._store.underived(self._mark if self._mark >= 0 else None, BATCH)
        up_to = events[-1].id if len(events) == BATCH else newest
        if events or up_to - self._saved >= SAVE_MARK_EVERY:
            loop = asyncio.get_running_loop()
            changes = await loop.run_in_executor(self._thread, _derived, events) if events else []
            await self._store.save_derived(changes, up_to)
            self._saved = up_to
        self._mark = up_to
        now_ms = time.time() * 1000
        for event in events:
            self._metrics.derive_lag.observe(max(0.0, now_ms - event.time_ms) / 1000)
        self._metrics.events_underived.set(newest - up_to)
        return len(events)

    async def _run(self) -> None:
        while True:
            commit = self._committed.next_commit()
            try:
                derived = await self.derive_once()
            except StoreError as error:
                log.warning("deriving failed, trying again", extra={"error": str(error)})
                await asyncio.sleep(RETRY_SECONDS)
                continue
            if self.ready is not self._committed:
                self.ready.fire()
            if derived < BATCH:
                if not self._store.derives_after_commit:
                    # Caught up with what was copied in: its own groups carry their summaries.
                    return
                await commit.wait()


def _derived(events: Sequence[Underived]) -> list[tuple[int, str]]:
    derived = []
    for event in events:
        try:
            derived.append((event.id, derive_changes(event.operation, event.body)))
        except Exception as error:  # noqa: BLE001 - one event's failure is that event's
            # Left underived: a reader computes it (and meets the same error) on its own.
            log.warning("event not derived", extra={"id": event.id, "error": repr(error)})
    return derived

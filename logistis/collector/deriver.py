"""Derived fields, filled in after the commit.

The webhook answers once its event's raw columns are durable; the change summary (on SQLite),
continuity and outcome (on both stores) are derived afterwards from the stored objects. The
deriver follows the commits, reads the events it has not reached (oldest first, a batch at a
time), derives them off the event loop and saves each batch in one transaction with its mark.
Under a burst it falls behind and catches up; a reader that reaches an event first computes the
same fields itself (`collector.store.rows`, `collector.judgements`), so nobody sees an event
without them. The mark is kept in the store: a collector stopped before deriving derives on its
next start.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence

import orjson

from logistis.collector.changes import compute_changes
from logistis.collector.continuity import Step
from logistis.collector.judgements import Judgement, judge_committed
from logistis.collector.metrics import Metrics
from logistis.collector.provenance import derive_committed
from logistis.collector.store import Store, StoreError, Underived
from logistis.collector.store.codec import decode
from logistis.collector.store.rows import PENDING
from logistis.collector.threads import worker
from logistis.collector.writer import CommitSignal

log = logging.getLogger(__name__)

# Events per transaction: a few milliseconds of the write thread's time, so a commit group
# never waits long behind one.
BATCH = 64
# A store that failed is tried again after this pause.
RETRY_SECONDS = 1.0
# What an event the deriver could not judge reads as: not known, and open (a reader judges
# its outcome again when later events come).
NOT_JUDGED = Judgement(None, settled=False)
# Decoded events kept from one pass to the next: an event's neighbours are mostly the events
# of its object just before it, decoded by the pass before.
RECENT_STEPS = 2 * BATCH


class Deriver:
    def __init__(self, store: Store, committed: CommitSignal, metrics: Metrics) -> None:
        self._store = store
        self._committed = committed
        self._metrics = metrics
        # Where it stands (-1: where the store says), and what the store last heard of it.
        self._mark = -1
        self._recent: dict[int, Step] = {}
        self._task: asyncio.Task[None] | None = None
        self.ready = CommitSignal()
        """Fires after each pass of the deriver: committed events can be read with their
        derived fields. The stream follows it, so its reads find them stored rather than
        compute them."""
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
        events, start, newest = await self._store.underived(
            self._mark if self._mark >= 0 else None, BATCH
        )
        up_to = events[-1].id if len(events) == BATCH else newest
        if up_to > start:
            loop = asyncio.get_running_loop()
            changes, steps = await loop.run_in_executor(self._thread, _decoded, events)
            judgements = await self._judged(events, steps, start)
            provenance = await derive_committed(self._store, steps, self._metrics)
            self._keep_recent(steps)
            await self._store.save_derived(changes, judgements, up_to, provenance)
        self._mark = up_to
        now_ms = time.time() * 1000
        for event in events:
            self._metrics.derive_lag.observe(max(0.0, now_ms - event.time_ms) / 1000)
        self._metrics.events_underived.set(newest - up_to)
        return len(events)

    async def _judged(
        self, events: Sequence[Underived], steps: dict[int, Step], start: int
    ) -> dict[int, Judgement]:
        """The batch's judgements, with those it decides among earlier events; an event that
        cannot be judged (an object that does not decode) is kept as not judged, never passed
        over as a usual one."""
        in_hand = {**self._recent, **steps}
        try:
            judged = await judge_committed(self._store, list(steps), in_hand, start)
        except StoreError:
            raise
        except Exception as error:  # noqa: BLE001 - a failure of judging is its batch's
            log.warning("events not judged", extra={"from": events[0].id, "error": repr(error)})
            judged = {}
        for event in events:
            judged.setdefault(event.id, NOT_JUDGED)
        return judged

    def _keep_recent(self, steps: dict[int, Step]) -> None:
        self._recent.update(steps)
        for stale in sorted(self._recent)[: max(0, len(self._recent) - RECENT_STEPS)]:
            del self._recent[stale]

    async def _run(self) -> None:
        while True:
            commit = self._committed.next_commit()
            try:
                derived = await self.derive_once()
            except StoreError as error:
                log.warning("deriving failed, trying again", extra={"error": str(error)})
                await asyncio.sleep(RETRY_SECONDS)
                continue
            self.ready.fire()
            if derived < BATCH:
                await asyncio.sleep(self._store.derive_spacing_seconds)
                await commit.wait()


def _decoded(events: Sequence[Underived]) -> tuple[list[tuple[int, str]], dict[int, Step]]:
    """Each event's objects decoded once: the change summaries still pending, and the steps
    its judgement compares (with their summaries: outcomes compare what they changed)."""
    changes, steps = [], {}
    for event in events:
        try:
            new, old, _ = decode(event.body)
            if event.changes == PENDING:
                summary = compute_changes(event.operation, old, new)
                changes.append((event.id, orjson.dumps(summary).decode()))
            else:
                summary = orjson.loads(event.changes)
        except Exception as error:  # noqa: BLE001 - one event's failure is that event's
            # Left underived: a reader computes it (and meets the same error) on its own.
            log.warning("event not derived", extra={"id": event.id, "error": repr(error)})
            continue
        steps[event.id] = Step(event.operation, event.subresource, event.dry_run, old, new, summary)
    return changes, steps

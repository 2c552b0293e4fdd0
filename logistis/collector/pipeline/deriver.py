"""Derived fields, filled in after the commit.

The webhook answers once its event's raw columns are durable; the change summary (on SQLite),
continuity and outcome (on both stores) are derived afterwards from the stored objects. The
deriver follows the commits, reads the events it has not reached (oldest first, a batch at a
time), derives them off the event loop and saves each batch in one transaction with its mark.
What it holds is bounded by bytes, not events: a pass takes events up to `BATCH_BYTES` of
JSON (one larger event alone), and the events kept for the next pass fill `RECENT_BYTES`, so
megabyte objects cost it megabytes, never gigabytes.
Under a burst it falls behind and catches up; a reader that reaches an event first computes the
same fields itself (the store the change summary, `history/reading.py` the others), so nobody
sees an event without them. The mark is kept in the store: a collector stopped before deriving
derives on its next start. Each pass ends with a report to whoever follows it
(`progress.py`): in the collector's process, or over a pipe from a process of its own
(`deriver_process.py`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter, OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from logistis.collector.history.changes import compute_changes
from logistis.collector.history.continuity import Ops, Step
from logistis.collector.history.judgements import Judgement, judge_committed
from logistis.collector.history.provenance import Derived, ProvenanceStore, derive
from logistis.collector.pipeline.notify.config import NotifySettings
from logistis.collector.pipeline.notify.matching import due
from logistis.collector.pipeline.progress import Heard, PassReport
from logistis.collector.pipeline.writer import CommitSignal
from logistis.collector.store import DeriverStore, PassReads, StoreError, Underived
from logistis.collector.store.protocol import OutboxRow, ThreadReads
from logistis.collector.threads import PassThread, computed

log = logging.getLogger(__name__)

# Events per transaction: a few milliseconds of the write thread's time, so a commit group
# never waits long behind one.
BATCH = 64
# The objects' JSON decoded in one pass (an event larger than this is a pass of its own):
# decoded, a pass holds several times this (a 1.7 MB ConfigMap of 60,000 keys: ~10 MB).
BATCH_BYTES = 8 * 2**20
# A store that failed is tried again after this pause.
RETRY_SECONDS = 1.0
# A pass that caught up holding this many events (or more) says reviews come fast: the pause
# before the next doubles, up to the store's most; one holding under half as many halves it,
# down to the store's least.
BUSY_PASS = BATCH // 4
# What an event the deriver could not judge reads as: not known, and open (a reader judges
# its outcome again when later events come).
NOT_JUDGED = Judgement(None, settled=False)
# Decoded events kept from one pass to the next, as many as fit in both limits: an event's
# neighbours are mostly the events of its object just before it, decoded by the pass before.
RECENT_STEPS = 2 * BATCH
RECENT_BYTES = BATCH_BYTES
# The oldest event not derived waiting longer than this: far behind, and /readyz says so (a
# replica that is not ready gets no reviews, and catches up).
FAR_BEHIND_SECONDS = 60.0


class Deriver:
    def __init__(
        self,
        store: DeriverStore,
        committed: CommitSignal,
        progress: Heard,
        notify: NotifySettings | None = None,
    ) -> None:
        self._store = store
        # Which notifications a pass queues, with the pass (collector/pipeline/notify).
        self._notify = notify or NotifySettings()
        self._committed = committed
        self._progress = progress
        # Where it stands (-1: where the store says), and what the store last heard of it.
        self._mark = -1
        # Events read per pass: fewer after a pass was cut at BATCH_BYTES, so large bodies are
        # not read many at a time, back to BATCH as they pass.
        self._limit = BATCH
        # Oldest first (ordered: taken from the front in O(1)), and the size of their JSON.
        self._recent: OrderedDict[int, Step] = OrderedDict()
        self._recent_sizes: dict[int, int] = {}
        self._recent_bytes = 0
        self._task: asyncio.Task[None] | None = None
        self._thread_reads: ThreadReads | None = None
        self._reads_opened = False
        self._spacing = Spacing(store.derive_spacing_seconds, store.derive_spacing_most_seconds)
        # A thread of its own, where a pass runs whole when the store reads there (SQLite):
        # off the event loop, with no hand-over between threads per read.
        self._thread = PassThread("deriver")

    def start(self) -> asyncio.Task[None]:
        """Derive after each commit until closed (the task ends early only on an unexpected
        failure)."""
        self._task = asyncio.create_task(self._run(), name="deriver")
        return self._task

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._thread_reads is not None:
            await self._thread.call(self._thread_reads.close)
            self._thread_reads = None
        self._thread.shutdown()

    async def derive_once(self) -> bool:
        """Derive one pass and report it; True when it caught up with every commit that had
        landed when it read (False: more are waiting)."""
        reads = await self._reads()
        if reads is None:
            done = await self._pass(self._store)
        else:
            done = await self._thread.run(lambda: self._pass_in_snapshot(reads))
        if done.derived is not None:
            await self._store.save_derived(*done.derived)
        events, up_to, newest = done.events, done.up_to, done.newest
        self._mark = up_to
        self._limit = len(events) if done.cut else min(BATCH, 2 * self._limit)
        now_ms = time.time() * 1000
        caught_up = up_to >= newest
        if caught_up:
            self._spacing.passed(len(events))
        self._progress.heard(
            PassReport(
                lags=[max(0.0, now_ms - event.time_ms) / 1000 for event in events],
                underived=newest - up_to,
                behind_since_ms=None if caught_up or not events else events[-1].time_ms,
                hand_edits=done.hand_edits,
            )
        )
        return caught_up

    async def _reads(self) -> ThreadReads | None:
        """The store's reads for a pass in the deriver's thread, opened there on the first
        pass; None where the pass reads on the event loop."""
        if not self._reads_opened:
            self._thread_reads = await self._thread.call(self._store.open_thread_reads)
            self._reads_opened = True
        return self._thread_reads

    async def _pass_in_snapshot(self, reads: ThreadReads) -> _Done:
        with reads.snapshot():
            return await self._pass(reads)

    async def _pass(self, store: PassReads) -> _Done:
        """Read and derive one pass (its save is the caller's): in the deriver's thread where
        the store reads there (every await in place), else on the event loop."""
        read, start, newest = await store.underived(
            self._mark if self._mark >= 0 else None, self._limit
        )
        events, sizes = _within(read, BATCH_BYTES)
        cut = len(events) < len(read)
        up_to = events[-1].id if cut or len(read) == self._limit else newest
        if up_to <= start:
            return _Done(events, cut, up_to, newest)
        changes, steps = await computed(_decoded, events)
        judgements = await self._judged(store, events, steps, start)
        provenance = await _derive_provenance(store, steps)
        self._keep_recent(steps, sizes)
        outbox = await due(self._notify, store, events, steps, judgements, provenance)
        derived = (changes, judgements, up_to, provenance, outbox)
        return _Done(events, cut, up_to, newest, derived, _hand_edits(provenance))

    async def _judged(
        self, store: PassReads, events: Sequence[Underived], steps: dict[int, Step], start: int
    ) -> dict[int, Judgement]:
        """The batch's judgements, with those it decides among earlier events; an event that
        cannot be judged (an object that does not decode) is kept as not judged, never passed
        over as a usual one."""
        in_hand = self._recent | steps
        try:
            judged = await judge_committed(store, list(steps), in_hand, start)
        except StoreError:
            raise
        except Exception as error:  # noqa: BLE001 - a failure of judging is its batch's
            log.warning("events not judged", extra={"from": events[0].id, "error": repr(error)})
            judged = {}
        for event in events:
            judged.setdefault(event.id, NOT_JUDGED)
        return judged

    def _keep_recent(self, steps: dict[int, Step], sizes: dict[int, int]) -> None:
        recent, kept = self._recent, self._recent_sizes
        for event_id, step in steps.items():
            recent.pop(event_id, None)
            recent[event_id] = step
            self._recent_bytes += sizes[event_id] - kept.get(event_id, 0)
            kept[event_id] = sizes[event_id]
        while len(recent) > RECENT_STEPS or self._recent_bytes > RECENT_BYTES:
            oldest, _ = recent.popitem(last=False)
            self._recent_bytes -= kept.pop(oldest)

    async def _run(self) -> None:
        while True:
            commit = self._committed.next_commit()
            try:
                caught_up = await self.derive_once()
            except StoreError as error:
                log.warning("deriving failed, trying again", extra={"error": str(error)})
                await asyncio.sleep(RETRY_SECONDS)
                continue
            if caught_up:
                await asyncio.sleep(self._spacing.seconds)
                await commit.wait()


class Spacing:
    """The pause between passes that caught up. A pass has a fixed cost whatever it holds (its
    read transaction, its save's commit, its report): under load, longer pauses share it among
    more events (passes of 64 cost the deriver ~20% less per review than passes of 16). When
    few reviews come, each pass holds a few events, and the store's own pause keeps what a
    commit waits behind a save, and the live tail's wait for the pass, short."""

    def __init__(self, least: float, most: float) -> None:
        self._least = least
        self._most = max(least, most)
        self.seconds = least

    def passed(self, events: int) -> None:
        """After a pass that caught up, holding `events`."""
        if events >= BUSY_PASS:
            self.seconds = min(2 * self.seconds, self._most)
        elif events < BUSY_PASS // 2:
            self.seconds = max(self.seconds / 2, self._least)


@dataclass(frozen=True, slots=True)
class _Done:
    """A pass read and derived: its events, whether BATCH_BYTES cut it short, the mark it
    reaches, the newest committed id, what `save_derived` keeps of it (None: nothing), and the
    hand edits it found by the kind of their actor."""

    events: Sequence[Underived]
    cut: bool
    up_to: int
    newest: int
    derived: (
        tuple[list[tuple[int, Ops]], dict[int, Judgement], int, Derived | None, list[OutboxRow]]
        | None
    ) = None
    hand_edits: dict[str, int] = field(default_factory=dict)


def _within(events: Sequence[Underived], budget: int) -> tuple[Sequence[Underived], dict[int, int]]:
    """The first events whose objects' JSON fits in `budget` bytes (the first one whatever its
    size), and each one's size."""
    sizes: dict[int, int] = {}
    total = 0
    for taken, event in enumerate(events):
        size = event.size
        if taken and total + size > budget:
            return events[:taken], sizes
        sizes[event.id] = size
        total += size
    return events, sizes


def _decoded(events: Sequence[Underived]) -> tuple[list[tuple[int, Ops]], dict[int, Step]]:
    """Each event's objects decoded once: the change summaries still pending, and the steps
    its judgement compares (with their summaries: outcomes compare what they changed)."""
    changes, steps = [], {}
    for event in events:
        try:
            old, new = event.objects()
            if event.changes is None:
                summary = compute_changes(event.operation, old, new)
                changes.append((event.id, summary))
            else:
                summary = event.changes()
        except Exception as error:  # noqa: BLE001 - one event's failure is that event's
            # Left underived: a reader computes it (and meets the same error) on its own.
            log.warning("event not derived", extra={"id": event.id, "error": repr(error)})
            continue
        steps[event.id] = Step(event.operation, event.subresource, event.dry_run, old, new, summary)
    return changes, steps


async def _derive_provenance(store: ProvenanceStore, steps: Mapping[int, Step]) -> Derived | None:
    """The deriver's part: derive the events of its pass, and the decisions they make about
    earlier hand edits, for the store to keep with the pass. A failure leaves them to be
    derived when read."""
    if not steps:
        return None
    try:
        authors = await store.authors(list(steps))
        derived = await derive(store, [(i, authors[i], steps[i]) for i in sorted(authors)], steps)
    except StoreError:
        raise
    except Exception as error:  # noqa: BLE001 - a failure of deriving these is its pass's
        log.warning("provenance not derived", extra={"from": min(steps), "error": repr(error)})
        return None
    return derived


def _hand_edits(derived: Derived | None) -> dict[str, int]:
    """The hand edits a pass found, counted by the kind of their actor."""
    found = derived.found.values() if derived is not None else ()
    return dict(Counter(event.actor.kind for event in found if event.hand_edit))

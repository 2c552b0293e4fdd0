"""The objects of events just committed, handed from the commit to the deriver.

The deriver derives every committed event from its objects. Read back from the store, that is
a read of the body, its decompression and, before the objects were kept as the JSON they
came in, a second decoding of what the webhook had decoded. The events of a group are in hand
when their commit returns: kept here by id, their objects go to the deriver as they are
(`RawJSON`, decoded once there, in its thread, or the values redaction or PostgreSQL's
encoder thread made). What is held is bounded by the bytes of JSON: when the deriver falls that
far behind, later events are not kept, and it reads them from the store, as it does for
everything committed before a restart. It serves a deriver in the committing process:
PostgreSQL's. SQLite's runs in a process of its own (collector/deriver_process.py) and reads
what it derives from the file; the collector's store there keeps nothing (`hand_off_nothing`).
"""

from __future__ import annotations

import dataclasses
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

from logistis.collector.history.events import Event, json_value
from logistis.collector.store.protocol import NotStored, Underived

# As much JSON as a pass of the deriver takes (deriver.BATCH_BYTES): two passes' worth.
HANDOFF_BYTES = 16 * 2**20


class HandOff:
    """Committed events' objects by id, oldest first, up to `budget` bytes of JSON."""

    def __init__(self, budget: int = HANDOFF_BYTES) -> None:
        self._budget = budget
        # Oldest first, let go of from the front (ordered: in O(1) each).
        self._held: OrderedDict[int, tuple[Any, Any, int]] = OrderedDict()
        self._bytes = 0
        # Kept after each commit on the event loop, taken by the deriver in its own thread
        # (on SQLite: store/sqlite_thread_reads.py).
        self._lock = threading.Lock()

    def keep(
        self, events: Sequence[Event], outcomes: Sequence[NotStored | None], sizes: Sequence[int]
    ) -> None:
        """After a commit: each stored event's objects (the store gave it its id), while
        they fit (none with no budget: no deriver runs in this process)."""
        if self._budget <= 0:
            return
        with self._lock:
            self._keep(events, outcomes, sizes)

    def _keep(
        self, events: Sequence[Event], outcomes: Sequence[NotStored | None], sizes: Sequence[int]
    ) -> None:
        for event, outcome, size in zip(events, outcomes, sizes, strict=True):
            if outcome is not None:
                continue
            if self._bytes + size > self._budget:
                return
            self._held[event.id] = (event.object, event.old_object, size)
            self._bytes += size

    def fill(self, events: Sequence[Underived]) -> list[Underived]:
        """The events read for a pass, with their objects where they are in hand; what is
        held for them, and for anything before them, is let go."""
        with self._lock:
            return self._fill(events)

    def _fill(self, events: Sequence[Underived]) -> list[Underived]:
        if not self._held or not events:
            return list(events)
        filled = []
        for event in events:
            held = self._held.get(event.id)
            if held is None:
                filled.append(event)
            else:
                filled.append(dataclasses.replace(event, objects=_values(*held[:2]), in_hand=True))
        self._forget_through(events[-1].id)
        return filled

    def _forget_through(self, last: int) -> None:
        held = self._held
        # Kept in the order of their ids: the oldest are first.
        while held and next(iter(held)) <= last:
            self._bytes -= held.popitem(last=False)[1][2]


def _values(new: Any, old: Any) -> Callable[[], tuple[Any, Any]]:
    """(oldObject, object) as values when called: `RawJSON` decoded then, by the caller's
    thread."""
    return lambda: (json_value(old), json_value(new))

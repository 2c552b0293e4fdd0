"""Events read whole: as the store keeps them, with the fields derived after the commit.

The store reads what it keeps; the deriver may not have reached an event yet (or the event was
recorded before a field was kept). Its continuity, outcome and provenance are then derived
here as the deriver would, and not kept (that is the deriver's). Every reader of events (the
query API, the stream, the Kubernetes API, notifications) reads through these functions, after
the store's read, never inside it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from logistis.collector.history import judgements, provenance
from logistis.collector.history.events import Event
from logistis.collector.history.query import EventQuery, Page


class EventReads(Protocol):
    """The store's reads of events, with what it keeps of them."""

    async def list_events(self, query: EventQuery, page: Page) -> tuple[list[Event], str | None]:
        """One page of summaries, newest first, and the cursor of the next page."""
        ...

    async def events_after(self, after_id: int, query: EventQuery, limit: int) -> list[Event]:
        """Summaries after an id, oldest first: the stream's read."""
        ...

    async def get_event(self, event_id: int) -> Event | None:
        """One event with its objects."""
        ...

    async def get_events(self, ids: Sequence[int]) -> list[Event]:
        """Events with their objects, in one read (those not found left out)."""
        ...


class Filling(judgements.JudgementStore, provenance.ProvenanceStore, Protocol):
    """What the derived fields of events read are filled in from."""


class Reading(EventReads, Filling, Protocol):
    """What reading events whole needs of a store."""


async def page(store: Reading, query: EventQuery, at: Page) -> tuple[list[Event], str | None]:
    events, cursor = await store.list_events(query, at)
    await fill_in(store, events)
    return events, cursor


async def after(store: Reading, after_id: int, query: EventQuery, limit: int) -> list[Event]:
    events = await store.events_after(after_id, query, limit)
    await fill_in(store, events)
    return events


async def one(store: Reading, event_id: int) -> Event | None:
    event = await store.get_event(event_id)
    if event is not None:
        await fill_in(store, [event])
    return event


async def several(store: Reading, ids: Sequence[int]) -> list[Event]:
    events = await store.get_events(ids)
    await fill_in(store, events)
    return events


async def fill_in(store: Filling, events: Sequence[Event]) -> None:
    """The fields derived after the commit: kept, or derived now."""
    await judgements.fill_in(store, events)
    await provenance.fill_in(store, events)

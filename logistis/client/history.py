"""What the clients ask the collector for: pages of events, and an object's full history."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from logistis.client.events import Event, EventFilter
from logistis.client.protocol import HistoryClient

PAGE = 1000
# Full events are fetched a few at a time: enough to hide latency, not enough to crowd the
# collector (a port-forward carries every request over one kubelet stream).
PARALLEL_DETAILS = 8


async def latest_events(
    client: HistoryClient, filter: EventFilter, limit: int | None
) -> list[Event]:
    """Newest first, at most `limit` (all if None), page by page."""
    found: list[Event] = []
    cursor: str | None = None
    while limit is None or len(found) < limit:
        want = PAGE if limit is None else min(PAGE, limit - len(found))
        page = await client.events(filter, cursor=cursor, limit=want)
        found.extend(page.items)
        cursor = page.next
        if cursor is None:
            break
    return found


async def latest_of_names(
    client: HistoryClient, filter: EventFilter, names: Iterable[str], limit: int | None
) -> list[Event]:
    """The newest events of several objects, merged newest first."""
    pages = await asyncio.gather(
        *(latest_events(client, filter.with_(name=name), limit) for name in names)
    )
    merged = sorted({e.id: e for page in pages for e in page}.values(), key=lambda e: -e.id)
    return merged[:limit] if limit is not None else merged


async def in_full(client: HistoryClient, events: Iterable[Event]) -> list[Event]:
    """The same events fetched with their objects, in the order given."""
    gate = asyncio.Semaphore(PARALLEL_DETAILS)

    async def one(event: Event) -> Event:
        if event.full:
            return event
        async with gate:
            return await client.event(event.id, event.namespace)

    return list(await asyncio.gather(*(one(e) for e in events)))


async def object_history(client: HistoryClient, filter: EventFilter) -> list[Event]:
    """Every recorded write to one object, oldest first, with objects."""
    newest_first = await latest_events(client, filter, None)
    return await in_full(client, reversed(newest_first))

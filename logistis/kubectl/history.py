"""The objects of `kubectl blame`'s events whose labels match a selector."""

from __future__ import annotations

from collections.abc import Iterable

from logistis.client.events import Event
from logistis.client.history import in_full
from logistis.client.protocol import HistoryClient
from logistis.kubectl.labels import Selector


async def labelled(
    client: HistoryClient, events: Iterable[Event], selector: Selector
) -> list[Event]:
    """The events (newest first) of the objects whose latest recorded version among them
    matches `selector`: each object's newest event is fetched in full for its labels."""
    events = list(events)
    newest: dict[tuple[str, str, str, str], Event] = {}
    for event in events:
        newest.setdefault(event.object_key, event)
    full = await in_full(client, newest.values())
    matching = {e.object_key for e in full if selector.matches(e.object or e.old_object)}
    return [e for e in events if e.object_key in matching]

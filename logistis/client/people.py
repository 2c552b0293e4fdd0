"""People first: who counts as a person, and how many machine events a people-only view
leaves out. The collector decides (`people=true` leaves out every `system:*` identity); the
front ends only count what it left out, to say so."""

from __future__ import annotations

from logistis.client.events import EventFilter, Facets
from logistis.client.protocol import HistoryClient


async def machine_events_left_out(
    client: HistoryClient, filter: EventFilter, shown: Facets | None = None
) -> int:
    """How many events matching `filter` its people-only view leaves out; 0 when it shows
    everything. `shown`: the facets of `filter` when the caller has them already."""
    if not filter.people:
        return 0
    everything = await client.facets(filter.with_(people=None))
    shown = shown or await client.facets(filter)
    return everything.total - shown.total

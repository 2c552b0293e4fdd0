"""What the screens load from the collector: each load a worker of the screen's that asks the
client and posts what came back as a message (logistis.tui.messages); none touches a widget.

A `Request` ties the answers to the load that asked for them. Every load of the event list,
a reload under the same filter too, is a new `Request`: the screen drops the answers to an
earlier one, so a late answer never replaces what a later load shows.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial

from textual.dom import DOMNode

from logistis.client import live
from logistis.client.events import Event, EventFilter
from logistis.client.live import LinkStatus
from logistis.client.protocol import CollectorHTTPError, HistoryClient
from logistis.client.window import Where
from logistis.tui.messages import (
    CoverageLoaded,
    EventReceived,
    FacetsLoaded,
    FilterRefused,
    LinkChanged,
    NamespacesLoaded,
    ObjectsLoaded,
    OutcomesLoaded,
    PageLoaded,
    RelatedLoaded,
)
from logistis.tui.widgets.namespace_tree import ObjectSummary, Place

PAGE_SIZE = 100
# A kind's objects are gathered from its most recent events, this many at most.
OBJECTS_SCAN = 1000
# The groups whose answers show the list under one filter: a refused filter stops them all.
LIST_GROUPS = ("events", "page", "facets", "live")


@dataclass(frozen=True, eq=False, slots=True)
class Request:
    """The history asked for under `filter`, `page_size` events a page. Compared by identity:
    two loads of the same filter are two requests."""

    filter: EventFilter
    page_size: int = PAGE_SIZE


class Loads:
    """The loads of `node` (a screen) through `client`; each answer is posted to `node`."""

    def __init__(self, node: DOMNode, client: HistoryClient) -> None:
        self.node, self.client = node, client

    def _run(
        self,
        work: Callable[[], Awaitable[None]],
        group: str,
        description: str,
        *,
        exclusive: bool = True,
    ) -> None:
        # A failure is reported by the screen's Worker.StateChanged handler, never lost.
        self.node.run_worker(
            work, group=group, description=description, exclusive=exclusive, exit_on_error=False
        )

    def cancel_list(self) -> None:
        """No more answers for the list: pages, counts and live events stop coming."""
        for group in LIST_GROUPS:
            self.node.workers.cancel_group(self.node, group)

    def first_page(self, request: Request) -> None:
        """The newest page and the blind spots, then the live stream from after that page."""
        self._run(partial(self._first_page, request), "events", "loading events")

    async def _first_page(self, request: Request) -> None:
        client = self.client
        try:
            page, spots = await asyncio.gather(
                client.events(request.filter, limit=request.page_size), client.coverage()
            )
        except CollectorHTTPError as error:
            if error.status != 400:
                raise
            self.node.post_message(FilterRefused(request, error.detail or error.message))
            return
        # Before the page: its rows are laid out with the blind spots between them.
        self.node.post_message(CoverageLoaded(spots))
        self.node.post_message(PageLoaded(request, Where.FIRST, None, page.items, page.next))
        self.follow(request, max((e.id for e in page.items), default=0))

    def page(self, request: Request, where: Where, cursor: str | None) -> None:
        self._run(partial(self._page, request, where, cursor), "page", "loading more events")

    async def _page(self, request: Request, where: Where, cursor: str | None) -> None:
        page = await self.client.events(request.filter, cursor=cursor, limit=request.page_size)
        self.node.post_message(PageLoaded(request, where, cursor, page.items, page.next))

    def facets(self, request: Request) -> None:
        self._run(partial(self._facets, request), "facets", "loading facets")

    async def _facets(self, request: Request) -> None:
        filter = request.filter
        try:
            facets = await self.client.facets(filter)
        except CollectorHTTPError as error:
            if error.status != 400:
                raise
            return  # the first page's load reports the same refusal
        hidden = None
        if filter.people:
            everything = await self.client.facets(filter.with_(people=None))
            hidden = everything.total - facets.total
        self.node.post_message(FacetsLoaded(request, facets, hidden))

    def outcomes(self, events: list[Event]) -> None:
        # Not exclusive: each burst of live events asks about its own.
        work = partial(self._outcomes, events)
        self._run(work, "outcomes", "loading outcomes", exclusive=False)

    async def _outcomes(self, events: list[Event]) -> None:
        asked = await asyncio.gather(*(self.client.event(e.id, e.namespace) for e in events))
        decided = {e.id: e.applied for e in asked if e.applied is not None}
        self.node.post_message(OutcomesLoaded(decided))

    def related(self, event_id: int, namespace: str) -> None:
        self._run(partial(self._related, event_id, namespace), "related", "loading the event")

    async def _related(self, event_id: int, namespace: str) -> None:
        self.node.post_message(RelatedLoaded(await self.client.event(event_id, namespace)))

    def namespaces(self) -> None:
        self._run(self._namespaces, "namespaces", "loading namespaces")

    async def _namespaces(self) -> None:
        self.node.post_message(NamespacesLoaded(await self.client.namespaces()))

    def objects(self, place: Place) -> None:
        """The objects of one kind in one namespace, most recently changed first."""
        self._run(partial(self._objects, place), "objects", "loading objects")

    async def _objects(self, place: Place) -> None:
        kind = place.kind
        assert kind is not None  # only kind nodes ask for their objects
        filter = EventFilter(namespace=place.namespace, kind=kind.kind, group=kind.group)
        page = await self.client.events(filter, limit=OBJECTS_SCAN)
        counts = Counter(e.name for e in page.items)
        objects = [ObjectSummary(name, count) for name, count in counts.items()]
        self.node.post_message(ObjectsLoaded(place, objects))

    def follow(self, request: Request, after: int | None, group: str = "live") -> None:
        """The live stream of `request`'s filter from after event `after`, kept alive; its
        link's state is posted as it changes."""
        self._run(partial(self._follow, request, after), group, "live stream")

    async def _follow(self, request: Request, after: int | None) -> None:
        def on_status(status: LinkStatus) -> None:
            self.node.post_message(LinkChanged(status))

        async for event in live.follow(self.client, request.filter, after, on_status):
            self.node.post_message(EventReceived(event, request))

"""Messages posted by workers: they carry data up and never touch widgets themselves.

An answer to a load names the `Request` it answers: the screen drops it when a later request
(a reload, another filter) has taken its place.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.message import Message

from logistis.client.events import BlindSpot, Event, Facets, NamespaceSummary
from logistis.client.live import LinkStatus
from logistis.client.protocol import HistoryClient
from logistis.client.window import Where
from logistis.tui.widgets.namespace_tree import ObjectSummary, Place

if TYPE_CHECKING:  # loads.py posts these messages: it imports this module
    from logistis.tui.loads import Request


class Connected(Message):
    """The collector answered; the client is ready for the screens."""

    def __init__(self, client: HistoryClient, home_namespace: str | None = None) -> None:
        super().__init__()
        self.client = client
        self.home_namespace = home_namespace


class LinkChanged(Message):
    """The connection to the collector changed state (connecting, live, reconnecting, failed)."""

    def __init__(self, status: LinkStatus) -> None:
        super().__init__()
        self.status = status

    def can_replace(self, message: Message) -> bool:
        # Only the newest state matters when several queue up.
        return isinstance(message, LinkChanged)


class EventReceived(Message):
    """The live stream opened for `request` delivered a newly recorded event."""

    def __init__(self, event: Event, request: Request) -> None:
        super().__init__()
        self.event = event
        self.request = request


class PageLoaded(Message):
    """A page of `request`'s events, fetched with `cursor`, to go `where` in the window."""

    def __init__(self, request: Request, where: Where, cursor: str | None,
                 items: tuple[Event, ...], next: str | None) -> None:  # fmt: skip
        super().__init__()
        self.request, self.where, self.cursor = request, where, cursor
        self.items, self.next = items, next


class FacetsLoaded(Message):
    """The facets of `request`'s filter; `hidden`: the machine events it leaves out."""

    def __init__(self, request: Request, facets: Facets, hidden: int | None) -> None:
        super().__init__()
        self.request, self.facets, self.hidden = request, facets, hidden


class FilterRefused(Message):
    """The collector refused `request`'s filter (a 400 that says why)."""

    def __init__(self, request: Request, reason: str) -> None:
        super().__init__()
        self.request, self.reason = request, reason


class CoverageLoaded(Message):
    """The blind spots of the history: the rows of the page after it are laid out around them."""

    def __init__(self, spots: tuple[BlindSpot, ...]) -> None:
        super().__init__()
        self.spots = spots


class OutcomesLoaded(Message):
    """Outcomes (`applied`) of shown events, by id, that later events decided."""

    def __init__(self, outcomes: dict[int, bool]) -> None:
        super().__init__()
        self.outcomes = outcomes


class RelatedLoaded(Message):
    """The event a hand edit's mark points to (its put-back, or the hand edit), not loaded in
    the list: it is opened."""

    def __init__(self, event: Event) -> None:
        super().__init__()
        self.event = event


class NamespacesLoaded(Message):
    def __init__(self, items: tuple[NamespaceSummary, ...]) -> None:
        super().__init__()
        self.items = items


class ObjectsLoaded(Message):
    """The objects of the kind at `place`, for the namespace tree."""

    def __init__(self, place: Place, objects: list[ObjectSummary]) -> None:
        super().__init__()
        self.place, self.objects = place, objects

"""Messages posted by workers: they carry data up and never touch widgets themselves."""

from __future__ import annotations

from textual.message import Message

from logistis.client.events import Event, EventFilter
from logistis.client.live import LinkStatus
from logistis.client.protocol import HistoryClient


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
    """The live stream for `filter` delivered a newly recorded event."""

    def __init__(self, event: Event, filter: EventFilter) -> None:
        super().__init__()
        self.event = event
        self.filter = filter

"""What a front end asks of the history, whichever way it reaches it: `HistoryClient`.

Two clients implement it: `api.CollectorClient` (the collector's own JSON API and its
server-sent events) and `kubeapi.KubeAPIClient` (the cluster's Kubernetes API under RBAC).
The TUI and the kubectl plugin know only this interface; `connect.connect` chooses the client.

Errors, all with a one-line message fit for a status bar or stderr:

    CollectorError                  anything that stops a call from giving an answer
     ├── CollectorUnreachable       no connection, or it broke (the forward died, a restart)
     └── CollectorHTTPError         the collector (or the apiserver) answered with an error status
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Self

from logistis.client.events import BlindSpot, Event, EventFilter, Facets, NamespaceSummary
from logistis.client.insights import Insights


class CollectorError(Exception):
    """The collector could not give an answer; `str()` is one readable line."""


class CollectorUnreachable(CollectorError):
    pass


class CollectorHTTPError(CollectorError):
    def __init__(self, status: int, message: str, detail: str = "", *, line: str = "") -> None:
        super().__init__(line or f"collector answered {status}: {message}")
        self.status = status
        self.message = message
        self.detail = detail
        """The answer's `detail` when it is text: what a refused value should look like."""


@dataclass(frozen=True, slots=True)
class Page:
    items: tuple[Event, ...]
    next: str | None


class HistoryClient(ABC):
    """The history's calls, as typed async calls. Use as `async with`; nothing is left open.

    Every call raises `CollectorError` (or a subclass) when it cannot answer.
    """

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    @abstractmethod
    async def aclose(self) -> None: ...

    @abstractmethod
    async def recover(self) -> None:
        """Make the next call reach the history again if a way back is known."""

    @abstractmethod
    async def events(
        self, filter: EventFilter, cursor: str | None = None, limit: int = 100
    ) -> Page:
        """A page of the events the filter selects, newest first; `next` is the cursor of the
        page after it."""

    @abstractmethod
    async def event(self, event_id: int, namespace: str | None = None) -> Event:
        """One event in full. `namespace`, where the caller knows it, spares a search where
        events are filed by namespace (the Kubernetes API)."""

    @abstractmethod
    async def namespaces(self) -> tuple[NamespaceSummary, ...]:
        """The namespaces (and the cluster scope) with a history this client may read."""

    @abstractmethod
    async def facets(self, filter: EventFilter) -> Facets:
        """Counts of the events the filter selects, for filter pickers."""

    @abstractmethod
    async def insights(
        self, filter: EventFilter, *, top: int = 10, bucket: str | None = None
    ) -> Insights:
        """The shape of the activity the filter selects (its `since`/`until` the window)."""

    @abstractmethod
    async def home_namespace(self) -> str | None:
        """The namespace to start in when this client may not read every namespace; None when
        it may."""

    @abstractmethod
    async def coverage(self) -> tuple[BlindSpot, ...]:
        """The periods when no collector was recording (none when the history cannot tell)."""

    @abstractmethod
    def stream(
        self,
        filter: EventFilter,
        after: int | None = None,
        on_open: Callable[[], None] | None = None,
    ) -> AsyncIterator[Event]:
        """Events as they are recorded, oldest first, starting after event `after`.

        `on_open` is called once the stream is accepted, before any event. Ends only with an
        error: `CollectorUnreachable` when the connection drops, so the caller can resume from
        the last event it saw (`live.follow` does).
        """

"""The collector's JSON API and its live stream, as typed async calls.

Errors, all with a one-line message fit for a status bar or stderr:

    CollectorError                  anything that stops a call from giving an answer
     ├── CollectorUnreachable       no connection, or it broke (the forward died, a restart)
     └── CollectorHTTPError         the collector answered with an error status
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from types import TracebackType
from typing import Any, Self, TypeVar

import httpx

from logistis.backoff import Backoff
from logistis.client.events import (
    BlindSpot,
    Event,
    EventFilter,
    Facets,
    JSONObject,
    MalformedEvent,
    NamespaceSummary,
)
from logistis.client.insights import Insights

API = "/api/v1"
DEFAULT_TIMEOUT = 10.0
# The collector pings idle streams; a stream silent for this long is taken as dead.
STREAM_IDLE_TIMEOUT = 45.0


class CollectorError(Exception):
    """The collector could not give an answer; `str()` is one readable line."""


class CollectorUnreachable(CollectorError):
    pass


class CollectorHTTPError(CollectorError):
    def __init__(self, status: int, message: str, detail: str = ""):
        super().__init__(f"collector answered {status}: {message}")
        self.status = status
        self.message = message
        self.detail = detail
        """The answer's `detail` when it is text: what a refused value should look like."""


@dataclass(frozen=True, slots=True)
class Page:
    items: tuple[Event, ...]
    next: str | None


Recover = Callable[[], Awaitable[str]]


class CollectorClient:
    """An async client for one collector. Use as `async with`; nothing is left open.

    `recover`, when given, is called before a retry after the collector became unreachable;
    it returns the base URL to use from then on (a restarted port-forward has a new port).
    """

    def __init__(
        self,
        base_url: str,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        recover: Recover | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        stream_idle_timeout: float = STREAM_IDLE_TIMEOUT,
        http: httpx.AsyncClient | None = None,
    ):
        self._http = http or httpx.AsyncClient(
            base_url=base_url, transport=transport, timeout=timeout
        )
        self._recover = recover
        self._stream_timeout = httpx.Timeout(timeout, read=stream_idle_timeout)

    @property
    def base_url(self) -> str:
        return str(self._http.base_url).rstrip("/")

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def recover(self) -> None:
        """Make the next call reach the collector again if a way back is known."""
        if self._recover is not None:
            self._http.base_url = httpx.URL(await self._recover())

    # -- queries -----------------------------------------------------------------------------

    async def events(
        self, filter: EventFilter, cursor: str | None = None, limit: int = 100
    ) -> Page:
        params = [*filter.to_params(), ("limit", str(limit))]
        if cursor:
            params.append(("cursor", cursor))
        body = await self._get_json(f"{API}/events", params)
        return Page(_parse(Event, body["items"]), body.get("next"))

    async def event(self, event_id: int, namespace: str | None = None) -> Event:
        """One event in full. `namespace`, where the caller knows it, spares a search where
        events are filed by namespace (the Kubernetes API)."""
        body = await self._get_json(f"{API}/events/{event_id}")
        return _parse_one(Event, body)

    async def namespaces(self) -> tuple[NamespaceSummary, ...]:
        body = await self._get_json(f"{API}/namespaces")
        return _parse(NamespaceSummary, body["items"])

    async def facets(self, filter: EventFilter) -> Facets:
        body = await self._get_json(f"{API}/facets", filter.to_params())
        return _parse_one(Facets, body)

    async def insights(
        self, filter: EventFilter, *, top: int = 10, bucket: str | None = None
    ) -> Insights:
        """The shape of the activity the filter selects (its `since`/`until` the window)."""
        params = [*filter.to_params(), ("top", str(top))]
        if bucket is not None:
            params.append(("bucket", bucket))
        return _parse_one(Insights, await self._get_json(f"{API}/insights", params))

    async def home_namespace(self) -> str | None:
        """The namespace to start in when this client may not read every namespace; None when
        it may (the collector's own API has no per-namespace rights)."""
        return None

    async def coverage(self) -> tuple[BlindSpot, ...]:
        """The periods when no collector was recording (an older collector has none to tell)."""
        try:
            body = await self._get_json(f"{API}/coverage")
        except CollectorHTTPError as error:
            if error.status == 404:
                return ()
            raise
        return _parse(BlindSpot, body["items"])

    async def _get_json(self, path: str, params: list[tuple[str, str]] | None = None) -> Any:
        try:
            response = await self._http.get(path, params=params)
        except httpx.TransportError as error:
            raise self._unreachable(error) from error
        _raise_for_status(response)
        try:
            return response.json()
        except ValueError as error:
            raise CollectorError(f"{self.base_url}{path}: answer is not JSON") from error

    def _unreachable(self, error: httpx.TransportError) -> CollectorUnreachable:
        reason = str(error) or type(error).__name__
        return CollectorUnreachable(f"cannot reach the collector at {self.base_url}: {reason}")

    # -- the live stream ---------------------------------------------------------------------

    async def stream(
        self,
        filter: EventFilter,
        after: int | None = None,
        on_open: Callable[[], None] | None = None,
    ) -> AsyncIterator[Event]:
        """Events as they are recorded, oldest first, starting after event `after`.

        `on_open` is called once the collector accepted the stream, before any event.
        Ends only with an error: `CollectorUnreachable` when the connection drops, so the
        caller can resume from the last event it saw.
        """
        headers = {"Accept": "text/event-stream"}
        if after is not None:
            headers["Last-Event-ID"] = str(after)
        request = self._http.build_request(
            "GET",
            f"{API}/stream",
            params=filter.to_params(),
            headers=headers,
            timeout=self._stream_timeout,
        )
        parser = SSEParser()
        async for line in self._lines(request, _raise_for_status, on_open):
            message = parser.feed(line)
            if message is not None and message.event == "change":
                yield _parse_one(Event, _json(message.data))
        raise CollectorUnreachable(f"the collector at {self.base_url} closed the live stream")

    async def _lines(
        self,
        request: httpx.Request,
        check: Callable[[httpx.Response], None],
        on_open: Callable[[], None] | None,
    ) -> AsyncIterator[str]:
        """The lines of a long-lived answer, as they come; `check` raises for an error status,
        `on_open` is called once the answer is a success. Ends when the server ends it."""
        try:
            response = await self._http.send(request, stream=True)
        except httpx.TransportError as error:
            raise self._unreachable(error) from error
        try:
            if response.is_error:
                await response.aread()
                check(response)
            if on_open is not None:
                on_open()
            async for line in response.aiter_lines():
                yield line
        except httpx.TransportError as error:
            raise self._unreachable(error) from error
        finally:
            await response.aclose()

    async def follow(
        self,
        filter: EventFilter,
        after: int | None,
        on_status: Callable[[LinkStatus], None],
        backoff: Backoff | None = None,
    ) -> AsyncIterator[Event]:
        """The live stream, kept alive: reconnects with backoff and resumes after the last
        event seen, so nothing is missed and nothing arrives twice."""
        backoff = backoff or Backoff()
        last = after

        def opened() -> None:
            backoff.reset()
            on_status(LinkStatus(LinkState.LIVE))

        on_status(LinkStatus(LinkState.CONNECTING))
        while True:
            try:
                async for event in self.stream(filter, last, on_open=opened):
                    if last is None or event.id > last:
                        last = event.id
                        yield event
            except CollectorError as error:
                if not _transient(error):
                    raise
                await self._reconnect(str(error), on_status, backoff)

    async def _reconnect(
        self, reason: str, on_status: Callable[[LinkStatus], None], backoff: Backoff
    ) -> None:
        """Wait, then recover; until recovery succeeds, each failure is the reason shown."""
        while True:
            delay = backoff.next()
            on_status(LinkStatus(LinkState.RECONNECTING, reason, delay))
            await asyncio.sleep(delay)
            try:
                await self.recover()
            except CollectorError as error:
                reason = str(error)
            else:
                return


class LinkState(StrEnum):
    CONNECTING = "connecting"
    LIVE = "live"
    RECONNECTING = "reconnecting"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class LinkStatus:
    state: LinkState
    reason: str = ""
    retry_in: float = 0.0


@dataclass(frozen=True, slots=True)
class SSEMessage:
    event: str
    data: str
    id: str | None


class SSEParser:
    """Server-sent events, line by line, as the HTML standard defines them.

    `last_id` persists across messages (a message without `id:` keeps the previous one), which
    is what a client sends back as `Last-Event-ID`.
    """

    def __init__(self) -> None:
        self.last_id: str | None = None
        self._event = ""
        self._data: list[str] = []

    def feed(self, line: str) -> SSEMessage | None:
        """Take one line (without its newline); return a message when a blank line ends one."""
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            return None
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "event":
            self._event = value
        elif name == "data":
            self._data.append(value)
        elif name == "id" and "\0" not in value:
            self.last_id = value
        return None

    def _dispatch(self) -> SSEMessage | None:
        event, data = self._event or "message", self._data
        self._event, self._data = "", []
        if not data:
            return None
        return SSEMessage(event, "\n".join(data), self.last_id)


def _transient(error: CollectorError) -> bool:
    """Worth retrying: the link broke, or the collector is (re)starting."""
    if isinstance(error, CollectorHTTPError):
        return error.status >= 500
    return isinstance(error, CollectorUnreachable)


def _raise_for_status(response: httpx.Response) -> None:
    if not response.is_error:
        return
    detail = ""
    try:
        body = response.json()
        message = str(body.get("error") or body)
        detail = body.get("detail") if isinstance(body.get("detail"), str) else ""
    except ValueError:
        message = response.text.strip().splitlines()[0] if response.text.strip() else ""
    raise CollectorHTTPError(response.status_code, message or response.reason_phrase, detail)


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as error:
        raise CollectorError(f"the live stream sent something that is not JSON: {error}") from None


T = TypeVar("T")


def _parse(cls: type[T], items: Any) -> tuple[T, ...]:
    try:
        return tuple(cls.from_json(item) for item in items)  # type: ignore[attr-defined]
    except (MalformedEvent, KeyError, TypeError, ValueError) as error:
        raise CollectorError(f"unexpected answer from the collector: {error!r}") from error


def _parse_one(cls: type[T], item: JSONObject) -> T:
    return _parse(cls, [item])[0]

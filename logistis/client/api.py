"""The collector's own JSON API and its live stream (server-sent events): `CollectorClient`,
the `HistoryClient` for `--url` and the port-forward."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx

from logistis.client.events import (
    BlindSpot,
    Event,
    EventFilter,
    Facets,
    JSONObject,
    MalformedEvent,
    NamespaceSummary,
)
from logistis.client.http import DEFAULT_TIMEOUT, STREAM_IDLE_TIMEOUT, Connection, Recover
from logistis.client.insights import Insights
from logistis.client.protocol import (
    CollectorError,
    CollectorHTTPError,
    CollectorUnreachable,
    HistoryClient,
    Page,
)

API = "/api/v1"


class CollectorClient(HistoryClient):
    """An async client for one collector.

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
    ):
        http = httpx.AsyncClient(base_url=base_url, transport=transport, timeout=timeout)
        self._connection = Connection(
            http, recover=recover, timeout=timeout, stream_idle_timeout=stream_idle_timeout
        )

    @property
    def base_url(self) -> str:
        return self._connection.base_url

    async def aclose(self) -> None:
        await self._connection.aclose()

    async def recover(self) -> None:
        await self._connection.recover()

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
        params = [*filter.to_params(), ("top", str(top))]
        if bucket is not None:
            params.append(("bucket", bucket))
        return _parse_one(Insights, await self._get_json(f"{API}/insights", params))

    async def home_namespace(self) -> str | None:
        # The collector's own API has no per-namespace rights.
        return None

    async def coverage(self) -> tuple[BlindSpot, ...]:
        # An older collector has no coverage to tell.
        try:
            body = await self._get_json(f"{API}/coverage")
        except CollectorHTTPError as error:
            if error.status == 404:
                return ()
            raise
        return _parse(BlindSpot, body["items"])

    async def _get_json(self, path: str, params: list[tuple[str, str]] | None = None) -> Any:
        return await self._connection.get_json(path, params or [], _raise_for_status)

    # -- the live stream ---------------------------------------------------------------------

    async def stream(
        self,
        filter: EventFilter,
        after: int | None = None,
        on_open: Callable[[], None] | None = None,
    ) -> AsyncIterator[Event]:
        headers = {"Accept": "text/event-stream"}
        if after is not None:
            headers["Last-Event-ID"] = str(after)
        parser = SSEParser()
        lines = self._connection.lines(
            f"{API}/stream", filter.to_params(), _raise_for_status, on_open, headers
        )
        async for line in lines:
            message = parser.feed(line)
            if message is not None and message.event == "change":
                yield _parse_one(Event, _json(message.data))
        raise CollectorUnreachable(f"the collector at {self.base_url} closed the live stream")


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

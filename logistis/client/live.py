"""The live stream kept alive, whichever client serves it, and the state of its link."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from enum import StrEnum

from logistis.backoff import Backoff
from logistis.client.events import Event, EventFilter
from logistis.client.protocol import (
    CollectorError,
    CollectorHTTPError,
    CollectorUnreachable,
    HistoryClient,
)


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


async def follow(
    client: HistoryClient,
    filter: EventFilter,
    after: int | None,
    on_status: Callable[[LinkStatus], None],
    backoff: Backoff | None = None,
) -> AsyncIterator[Event]:
    """The client's live stream, kept alive: reconnects with backoff and resumes after the
    last event seen, so nothing is missed and nothing arrives twice."""
    backoff = backoff or Backoff()
    last = after

    def opened() -> None:
        backoff.reset()
        on_status(LinkStatus(LinkState.LIVE))

    on_status(LinkStatus(LinkState.CONNECTING))
    while True:
        try:
            async for event in client.stream(filter, last, on_open=opened):
                if last is None or event.id > last:
                    last = event.id
                    yield event
        except CollectorError as error:
            if not _transient(error):
                raise
            await _reconnect(client, str(error), on_status, backoff)


async def _reconnect(
    client: HistoryClient,
    reason: str,
    on_status: Callable[[LinkStatus], None],
    backoff: Backoff,
) -> None:
    """Wait, then recover; until recovery succeeds, each failure is the reason shown."""
    while True:
        delay = backoff.next()
        on_status(LinkStatus(LinkState.RECONNECTING, reason, delay))
        await asyncio.sleep(delay)
        try:
            await client.recover()
        except CollectorError as error:
            reason = str(error)
        else:
            return


def _transient(error: CollectorError) -> bool:
    """Worth retrying: the link broke, or the collector is (re)starting."""
    if isinstance(error, CollectorHTTPError):
        return error.status >= 500
    return isinstance(error, CollectorUnreachable)

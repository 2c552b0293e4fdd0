"""One POST to a sink and what its answer means for the item: sent, tried again later (5xx,
408, 429, a network error: `Retry-After` honoured), or refused for good (any other 4xx)."""

from __future__ import annotations

import email.utils
import time
from dataclasses import dataclass

import aiohttp

from logistis.collector.pipeline.notify.request import Request

RETRIED_4XX = frozenset({408, 429})


@dataclass(frozen=True, slots=True)
class Outcome:
    sent: bool
    final: bool
    """Never to be tried again (sent, or refused for good)."""
    retry_after: float | None = None
    """Seconds the receiver asked to wait (`Retry-After`)."""
    detail: str = ""


SENT = Outcome(sent=True, final=True)


async def post(
    session: aiohttp.ClientSession, url: str, request: Request, seconds: float
) -> Outcome:
    try:
        async with session.post(
            url,
            data=request.body,
            headers=request.headers,
            timeout=aiohttp.ClientTimeout(total=seconds),
            allow_redirects=False,
        ) as response:
            await response.read()
            return outcome(response.status, response.headers.get("Retry-After"))
    except (aiohttp.ClientError, TimeoutError, OSError) as error:
        return Outcome(sent=False, final=False, detail=f"{type(error).__name__}: {error}")


def outcome(status: int, retry_after: str | None) -> Outcome:
    if 200 <= status < 300:
        return SENT
    retried = status >= 500 or status in RETRIED_4XX
    return Outcome(
        sent=False,
        final=not retried,
        retry_after=_seconds(retry_after) if retried else None,
        detail=f"HTTP {status}",
    )


def _seconds(value: str | None) -> float | None:
    """`Retry-After` as delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - time.time())

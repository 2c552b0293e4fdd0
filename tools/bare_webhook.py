"""A no-op admission webhook without aiohttp: what aiohttp's request machinery costs a review.

`tools/noop_webhook.py` answers on aiohttp, as the collector does. This one answers on a bare
`asyncio.Protocol` over the same TLS context and event loop, with the same JSON parsing: it finds
the end of the headers and the Content-Length, reads the body, and writes a fixed status line
and headers. It is not an HTTP server (no chunked bodies, no limits, no timeouts, no errors
answered): only a measure of the floor under an HTTP front, for `tools/bench.py --only cost`.

    python tools/bare_webhook.py --data-dir DIR --listen 127.0.0.1:9443
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import cast

import orjson
from noop_webhook import command, until_stopped

from logistis.collector.trust.tls import ReloadingTLS, ensure_dev_certificate

_LENGTH = b"\r\ncontent-length:"
_ANSWER = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"


class BareReviews(asyncio.Protocol):
    """Keep-alive requests on one connection, each answered `allowed: true` for its uid."""

    def __init__(self) -> None:
        self._transport: asyncio.Transport | None = None
        self._buffer = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's TLS transport writes as asyncio.Transport does, without subclassing it.
        self._transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        buffer = self._buffer + data
        while (request := _request(buffer)) is not None:
            body, buffer = request
            review = orjson.loads(body)
            answer = orjson.dumps(
                {
                    "apiVersion": review["apiVersion"],
                    "kind": "AdmissionReview",
                    "response": {"uid": review["request"]["uid"], "allowed": True},
                }
            )
            assert self._transport is not None
            self._transport.write(_ANSWER % (len(answer), answer))
        self._buffer = buffer


def _request(buffer: bytes) -> tuple[bytes, bytes] | None:
    """The first whole request's body and what follows it; None until it has all arrived."""
    end = buffer.find(b"\r\n\r\n")
    if end < 0:
        return None
    head = buffer[:end].lower()
    at = head.find(_LENGTH)
    length = 0
    if at >= 0:
        value_end = head.find(b"\r\n", at + 2)
        length = int(head[at + len(_LENGTH) : value_end if value_end >= 0 else None])
    start = end + 4
    if len(buffer) < start + length:
        return None
    return buffer[start : start + length], buffer[start + length :]


async def serve(data_dir: Path, host: str, port: int) -> None:
    tls = ReloadingTLS(*ensure_dev_certificate(data_dir))
    loop = asyncio.get_running_loop()
    server = await loop.create_server(BareReviews, host, port, ssl=tls.context)
    try:
        await until_stopped()
    finally:
        server.close()


if __name__ == "__main__":
    command("bare_webhook", __doc__, serve)

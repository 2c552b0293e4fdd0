"""`/api/v1/stream`: server-sent events, read from the store after each commit.

A client never has a queue of its own: after every commit it reads what it has not yet seen
from the database, with its own filters. Ingestion never waits for a client, memory does not
grow with a slow one, and resuming after `Last-Event-ID` is the same query as keeping up.
"""

from __future__ import annotations

import asyncio
import contextlib

import orjson
from aiohttp import web

from collector.events import Event
from collector.http import RUNTIME
from collector.query import FILTERS, after_id, event_query, parse_query

STREAMS = web.AppKey("streams", set[web.StreamResponse])
BATCH = 500
PING_SECONDS = 15.0
# A client that cannot take a batch within this long is disconnected, not waited for.
WRITE_TIMEOUT_SECONDS = 10.0


async def stream(request: web.Request) -> web.StreamResponse:
    runtime = request.app[RUNTIME]
    grouped = parse_query(request.query.items(), allowed=(*FILTERS, "after"))
    query = event_query(grouped)
    last = after_id(grouped, request.headers.get("Last-Event-ID"))
    if last is None:
        last = await runtime.store.last_id()
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",
        }
    )
    await response.prepare(request)
    streams = request.app[STREAMS]
    streams.add(response)
    runtime.metrics.stream_clients.inc()
    try:
        await _follow(request, response, query, last)
    except (ConnectionResetError, TimeoutError):
        pass
    finally:
        streams.discard(response)
        runtime.metrics.stream_clients.dec()
    return response


async def _follow(request: web.Request, response: web.StreamResponse, query, last: int) -> None:
    runtime = request.app[RUNTIME]
    await _write(response, b": connected\n\n")
    while not runtime.stopping.is_set():
        events = await runtime.store.events_after(last, query, BATCH)
        if events:
            await _write(response, b"".join(_message(e) for e in events))
            last = events[-1].id
            if len(events) == BATCH:
                continue
        if not await runtime.writer.committed.wait(PING_SECONDS):
            await _write(response, b": ping\n\n")


def _message(event: Event) -> bytes:
    return b"id: %d\nevent: change\ndata: %s\n\n" % (event.id, orjson.dumps(event.summary()))


async def _write(response: web.StreamResponse, data: bytes) -> None:
    await asyncio.wait_for(response.write(data), WRITE_TIMEOUT_SECONDS)


async def close_streams(app: web.Application) -> None:
    """On shutdown: wake every stream so it sees `stopping` and ends."""
    app[RUNTIME].writer.committed.fire()
    for response in list(app[STREAMS]):
        with contextlib.suppress(ConnectionResetError, RuntimeError):
            await response.write_eof()

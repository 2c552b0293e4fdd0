"""`/api/v1/stream`: server-sent events, read from the store after each commit.

A client never has a queue of its own: after every commit it reads what it has not yet seen
from the database, with its own filters. Ingestion never waits for a client, memory does not
grow with a slow one, and resuming after `Last-Event-ID` is the same query as keeping up.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable
from dataclasses import dataclass

import orjson
from aiohttp import web

from logistis.collector.edge.http import RUNTIME
from logistis.collector.edge.parameters import after_id, event_query, parse_query
from logistis.collector.history import reading
from logistis.collector.history.events import Event
from logistis.collector.history.query import FILTERS, STREAM, EventQuery
from logistis.collector.history.reading import Reading
from logistis.collector.store import QueryStore, StoreError

log = logging.getLogger(__name__)

STREAMS = web.AppKey("streams", set[web.StreamResponse])
READS = web.AppKey("stream_reads", dict[tuple[EventQuery, int, "Encode"], "asyncio.Future[_Batch]"])
BATCH = 500
PING_SECONDS = 15.0
# Under load commits come every few milliseconds; waking every follower for each one would
# cost the event loop the admission requests share. A follower reads at most this often; an
# event after a quiet spell goes out at once.
GATHER_SECONDS = 0.05
# The kernel's send buffer for one stream. Linux grows a socket's buffer up to tcp_wmem's
# maximum (4 MiB) whether or not the peer reads, and on loopback (a port-forward) it takes
# every write, so a client that stopped reading never made a write wait and
# --stream-write-timeout never fired. Capped (the kernel doubles it), such a client holds a
# few hundred kilobytes at most: the buffers, its own receive window and aiohttp's 64 KiB.
SEND_BUFFER_BYTES = 64 * 1024


Encode = Callable[[Event], bytes]
"""One event as the bytes a follower writes: a module-level function, so that followers with
the same encoding share reads (it is part of the key)."""
Ping = Callable[[int], bytes]
"""What a follower writes after a quiet spell, given the last event id it has sent."""


async def stream(request: web.Request) -> web.StreamResponse:
    runtime = request.app[RUNTIME]
    grouped = parse_query(request.query.items(), allowed=FILTERS + STREAM)
    query = event_query(grouped)
    last = after_id(grouped, request.headers.get("Last-Event-ID"))
    if last is None:
        store: QueryStore = runtime.store
        last = await store.last_id()
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",
        }
    )
    await response.prepare(request)
    await follow(request, response, query, last, _message, _ping, first=b": connected\n\n")
    return response


async def follow(
    request: web.Request,
    response: web.StreamResponse,
    query: EventQuery,
    last: int,
    encode: Encode,
    ping: Ping,
    *,
    first: bytes = b"",
) -> None:
    """Write every event matching `query` after `last`, as it is committed, until the client
    leaves or the collector stops. `response` is prepared; a client that goes away ends this
    quietly, one that stops reading is disconnected."""
    runtime = request.app[RUNTIME]
    _bound_send_buffer(request)
    streams = request.app[STREAMS]
    streams.add(response)
    runtime.metrics.stream_clients.inc()
    # After the deriver's pass, not the bare commit: the read then finds the summaries stored.
    signal = runtime.progress.ready
    clock = asyncio.get_running_loop().time
    timeout = runtime.settings.stream_write_timeout_seconds
    try:
        if first:
            await _write(response, first, timeout)
        # Nothing is awaited between the check of `stopping` and taking the next commit: the
        # shutdown's wake-up (close_streams) then always ends the wait below.
        while not runtime.stopping.is_set():
            commit = signal.next_commit()
            next_read = clock() + GATHER_SECONDS
            batch = await _shared_batch(request.app, query, last, encode)
            if batch.count:
                await _write(response, batch.payload, timeout)
                last = batch.last
            full = batch.count == BATCH
            if not full and not await signal.wait(commit, PING_SECONDS) and (quiet := ping(last)):
                await _write(response, quiet, timeout)
            if (pause := next_read - clock()) > 0:
                await asyncio.sleep(pause)
    except ConnectionResetError:
        pass
    except TimeoutError:
        # It cannot take a batch within --stream-write-timeout: close the socket at once,
        # discarding what the kernel and the transport still hold for it, so a client that
        # stops reading holds neither a connection nor memory.
        runtime.metrics.stream_disconnects.labels("slow client").inc()
        if request.transport is not None:
            request.transport.abort()
    except StoreError as error:
        # The client resumes after the last id it received once the store is back.
        log.warning("stream ended: store unavailable", extra={"error": str(error)})
    finally:
        streams.discard(response)
        runtime.metrics.stream_clients.dec()


def _bound_send_buffer(request: web.Request) -> None:
    sock = request.transport.get_extra_info("socket") if request.transport else None
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER_BYTES)


@dataclass(frozen=True, slots=True)
class _Batch:
    payload: bytes
    last: int
    count: int


async def _shared_batch(
    app: web.Application, query: EventQuery, last: int, encode: Encode
) -> _Batch:
    """The messages after `last`. Streams with the same filters at the same place share one
    read and one encoding: after a commit, hundreds of followers cost one query, not hundreds.
    """
    reads = app[READS]
    key = (query, last, encode)
    read = reads.get(key)
    if read is None:
        read = asyncio.ensure_future(_read(app[RUNTIME].store, query, last, encode))
        reads[key] = read
        read.add_done_callback(lambda _: reads.pop(key, None))
    # One follower leaving must not cancel the read the others wait for.
    return await asyncio.shield(read)


async def _read(store: Reading, query: EventQuery, last: int, encode: Encode) -> _Batch:
    events = await reading.after(store, last, query, BATCH)
    payload = b"".join(encode(e) for e in events)
    return _Batch(payload, events[-1].id if events else last, len(events))


def _message(event: Event) -> bytes:
    return b"id: %d\nevent: change\ndata: %s\n\n" % (event.id, orjson.dumps(event.summary()))


def _ping(last: int) -> bytes:
    return b": ping\n\n"


async def _write(response: web.StreamResponse, data: bytes, seconds: float) -> None:
    await asyncio.wait_for(response.write(data), seconds)


async def close_streams(app: web.Application) -> None:
    """On shutdown: wake every stream so it sees `stopping` and ends its own response (its
    handler returns and aiohttp finishes it). Finishing it from here would race the follower,
    whose next write would then fail after the end."""
    app[RUNTIME].progress.ready.fire()

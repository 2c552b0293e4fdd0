"""Slow-loris peers on the webhook port: connections that trickle their headers or stall in
their body. Admission for everyone else goes on as before; nothing is stored for them; a body
that finally arrives broken gets a JSON 4xx."""

from __future__ import annotations

import asyncio
import contextlib
import json
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support.collector import CollectorProcess

from .load import (
    PATIENT,
    Load,
    database,
    event_count,
    fresh_review,
    percentile,
    recorded_fixtures,
)
from .scale import knob, report

HEAD = (
    b"POST /validate?timeout=5s HTTP/1.1\r\nHost: logistis\r\n"
    b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n"
)


@pytest.fixture
async def collector(tmp_path: Path) -> AsyncIterator[CollectorProcess]:
    process = CollectorProcess(tmp_path / "data", *PATIENT).start()
    yield process
    assert await asyncio.to_thread(process.stop) == 0


async def open_tls(
    collector: CollectorProcess, tls: ssl.SSLContext
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection(
        "127.0.0.1", collector.webhook_port, ssl=tls, server_hostname="localhost"
    )


async def trickle_headers(
    collector: CollectorProcess, tls: ssl.SSLContext, stop: asyncio.Event
) -> None:
    """One byte of the request head at a time, as slowly as a server will wait."""
    _, writer = await open_tls(collector, tls)
    try:
        for byte in HEAD % 10:
            if stop.is_set():
                return
            writer.write(bytes([byte]))
            await writer.drain()
            await asyncio.sleep(0.2)
    finally:
        writer.close()


async def stall_body(
    collector: CollectorProcess, tls: ssl.SSLContext, stop: asyncio.Event
) -> tuple[int, dict[str, object]]:
    """A head promising a large body, a few bytes of it, a stall, then junk to the end."""
    reader, writer = await open_tls(collector, tls)
    size = 50_000
    writer.write(HEAD % size + b'{"kind": "AdmissionRev')
    await writer.drain()
    await stop.wait()
    writer.write(b"x" * (size - len(b'{"kind": "AdmissionRev')))
    await writer.drain()
    status_line = await reader.readline()
    headers = await reader.readuntil(b"\r\n\r\n")
    length = int(headers.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
    body = await reader.readexactly(length)
    writer.close()
    return int(status_line.split()[1]), json.loads(body)


async def test_slow_peers_do_not_slow_admission(collector: CollectorProcess) -> None:
    tls = collector.ssl_context()
    baseline = await Load(collector, workers=4).run_for(1.0)
    before = event_count(database(collector))
    stop = asyncio.Event()
    peers = knob("slow_peers", 100)
    trickling = [asyncio.create_task(trickle_headers(collector, tls, stop)) for _ in range(peers)]
    stalled = [asyncio.create_task(stall_body(collector, tls, stop)) for _ in range(peers)]
    await asyncio.sleep(0.5)
    loaded = await Load(collector, workers=4).run_for(1.0)
    stop.set()
    answers = await asyncio.gather(*stalled)
    await asyncio.gather(*trickling)
    assert loaded.denied == 0
    assert set(loaded.answers) == {200}
    # Throughput and latency beside the slow peers are figures for `make soak`, not pass/fail:
    # on a shared 2-core machine they move with whatever else runs.
    report(
        "admission throughput beside slow peers, of baseline",
        round(len(loaded.latencies) / len(baseline.latencies), 2),
    )
    report("admission p99 beside slow peers (ms)", round(percentile(loaded.latencies, 0.99) * 1000))
    for status, body in answers:
        assert status == 400
        assert isinstance(body["error"], str)
    assert event_count(database(collector)) == before + len(loaded.acknowledged)


async def closed_by_server(reader: asyncio.StreamReader, seconds: float) -> bool:
    """The server ended the connection (EOF or reset) within `seconds`, whatever it said."""
    try:
        async with asyncio.timeout(seconds):
            while await reader.read(65536):
                pass
    except TimeoutError:
        return False
    except (ConnectionResetError, ssl.SSLError):
        return True
    return True


@pytest.fixture
async def impatient(tmp_path: Path) -> AsyncIterator[CollectorProcess]:
    process = CollectorProcess(
        tmp_path / "data",
        *PATIENT,
        "--tls-handshake-timeout", "1",
        "--idle-timeout", "2",
        "--body-timeout", "1",
    ).start()  # fmt: skip
    yield process
    assert await asyncio.to_thread(process.stop) == 0


async def test_half_open_tls_connections_are_closed(impatient: CollectorProcess) -> None:
    """TCP connected, and then no ClientHello, or half of one: closed at the handshake timeout
    rather than held for asyncio's 60 s."""
    silent = [await asyncio.open_connection("127.0.0.1", impatient.webhook_port) for _ in range(5)]
    partial = [await asyncio.open_connection("127.0.0.1", impatient.webhook_port) for _ in range(5)]
    for _, writer in partial:
        writer.write(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")  # a ClientHello, cut short
        await writer.drain()
    for reader, writer in silent + partial:
        assert await closed_by_server(reader, 20.0)
        writer.close()


async def test_a_trickled_head_does_not_stretch_the_idle_timeout(
    impatient: CollectorProcess,
) -> None:
    """A byte every 0.2 s keeps the peer busy but never finishes a request: the connection is
    closed at the idle timeout anyway, while the trickle still has bytes to send."""
    reader, writer = await open_tls(impatient, impatient.ssl_context())
    head = HEAD % 10 + b"X-Padding: " + b"p" * 400
    closed = asyncio.create_task(closed_by_server(reader, 30.0))
    for byte in head:
        if closed.done():
            break
        with contextlib.suppress(ConnectionError, ssl.SSLError):
            writer.write(bytes([byte]))
            await writer.drain()
        await asyncio.sleep(0.05)
    assert closed.done(), "the trickled head was never cut off"
    assert await closed
    writer.close()


async def test_an_idle_keep_alive_connection_is_closed(impatient: CollectorProcess) -> None:
    reader, writer = await open_tls(impatient, impatient.ssl_context())
    body = json.dumps(fresh_review(recorded_fixtures()[0])).encode()
    writer.write(HEAD % len(body) + body)
    await writer.drain()
    assert (await reader.readline()).startswith(b"HTTP/1.1 200")
    assert await closed_by_server(reader, 20.0)
    writer.close()


async def test_a_stalled_body_is_a_json_408_and_closed(impatient: CollectorProcess) -> None:
    reader, writer = await open_tls(impatient, impatient.ssl_context())
    before = event_count(database(impatient))
    writer.write(HEAD % 5000 + b'{"kind": "AdmissionRev')
    await writer.drain()
    status_line = await reader.readline()
    headers = await reader.readuntil(b"\r\n\r\n")
    assert status_line.startswith(b"HTTP/1.1 408")
    assert b"application/json" in headers
    assert await closed_by_server(reader, 20.0)
    writer.close()
    assert event_count(database(impatient)) == before

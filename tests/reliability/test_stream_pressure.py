"""Followers of /api/v1/stream, many, stuck or vanishing: admission does not notice them.

Latency is measured at the client, through the same two cores the collector runs on, so the
bounds compare against a baseline taken moments before rather than against absolute figures.
"""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support.collector import CollectorProcess

from .load import PATIENT, Load, metric, percentile, rss_mib
from .scale import knob, report

REQUEST = b"GET /api/v1/stream HTTP/1.1\r\nHost: logistis\r\n\r\n"


class Follower:
    """A raw-socket stream client that only counts the events it gets (cheap, so hundreds fit
    beside the load generator)."""

    def __init__(self) -> None:
        self.received = 0
        self.bytes = 0
        self.task: asyncio.Task[None] | None = None

    async def follow(self, port: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(REQUEST)
        try:
            while chunk := await reader.read(65536):
                self.received += chunk.count(b"\nid: ") + chunk.startswith(b"id: ")
                self.bytes += len(chunk)
        finally:
            writer.close()


@pytest.fixture
async def collector(tmp_path: Path) -> AsyncIterator[CollectorProcess]:
    process = CollectorProcess(tmp_path / "data", *PATIENT).start()
    yield process
    assert await asyncio.to_thread(process.stop) == 0


async def connected(collector: CollectorProcess, count: int) -> None:
    for _ in range(100):
        if metric(collector, "logistis_stream_clients") >= count:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{count} followers never all connected")


async def test_hundreds_of_followers_leave_admission_alone(collector: CollectorProcess) -> None:
    clients = knob("stream_clients", 300)
    baseline = await Load(collector, workers=4).run_for(1.5)
    followers = [Follower() for _ in range(clients)]
    for follower in followers:
        follower.task = asyncio.create_task(follower.follow(collector.api_port))
    await connected(collector, clients)
    rss_before = rss_mib(collector)
    loaded = await Load(collector, workers=4).run_for(1.5)
    try:
        # Every follower gets every event, promptly.
        for _ in range(50):
            if min(f.received for f in followers) >= len(loaded.acknowledged):
                break
            await asyncio.sleep(0.1)
        assert {f.received for f in followers} == {len(loaded.acknowledged)}
        rss_after = rss_mib(collector)
    finally:
        for follower in followers:
            assert follower.task is not None
            follower.task.cancel()
        await asyncio.gather(*(f.task for f in followers if f.task), return_exceptions=True)
    throughput = len(loaded.latencies) / len(baseline.latencies)
    # Throughput and p99 beside the followers are reported (`make soak` prints them), not
    # asserted: on a shared 2-core machine they move with whatever else runs.
    assert rss_after - rss_before < 40
    report("stream followers held", clients)
    report("collector RSS with the followers (MiB)", round(rss_after))
    report("admission throughput with the followers, of baseline", round(throughput, 2))
    report(
        "admission p99 with the followers (ms)", round(percentile(loaded.latencies, 0.99) * 1000)
    )


def stuck_socket(port: int) -> socket.socket:
    """Connected, asking for the stream, and never reading a byte of it."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    sock.sendall(REQUEST)
    return sock


async def test_stuck_followers_hold_back_neither_admission_nor_the_others(
    collector: CollectorProcess,
) -> None:
    stuck = [stuck_socket(collector.api_port) for _ in range(knob("stuck_clients", 50))]
    live = Follower()
    live.task = asyncio.create_task(live.follow(collector.api_port))
    try:
        await connected(collector, len(stuck) + 1)
        rss_before = rss_mib(collector)
        load = await Load(collector, workers=8).run_for(2.0)
        await asyncio.sleep(0.5)
        assert live.received == len(load.acknowledged)
        # Each stuck follower holds at most a socket's worth of unsent data.
        assert rss_mib(collector) - rss_before < 40
        assert load.denied == 0
        assert set(load.answers) == {200}
    finally:
        live.task.cancel()
        for sock in stuck:
            sock.close()


def abort(sock: socket.socket) -> None:
    """Close with a reset, as a client that crashes or loses its network does."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


async def test_followers_that_vanish_mid_response_leave_nothing_behind(
    collector: CollectorProcess,
) -> None:
    load = Load(collector, workers=4)
    running = asyncio.create_task(load.run())
    rss_before = rss_mib(collector)
    for _ in range(knob("vanishing_clients", 200)):
        sock = await asyncio.to_thread(stuck_socket, collector.api_port)
        await asyncio.sleep(0.005)
        await asyncio.to_thread(sock.recv, 100)
        abort(sock)
    await asyncio.sleep(0.5)
    load.stop()
    await running
    # A vanished follower is noticed at its next write; the next commit gives it one.
    await Load(collector, workers=1).run_for(0.3)
    for _ in range(50):
        if metric(collector, "logistis_stream_clients") == 0:
            break
        await asyncio.sleep(0.1)
    assert metric(collector, "logistis_stream_clients") == 0
    assert rss_mib(collector) - rss_before < 40
    assert load.denied == 0


def fat_review(review: dict) -> dict:
    """A review whose event summary is 40 kB (the user's extra is in it): a few hundred of them
    fill any socket buffer."""
    review["request"]["userInfo"]["extra"] = {"padding": ["x" * 40_000]}
    return review


def closed_by_peer(sock: socket.socket, seconds: float) -> bool:
    """The other end closed: whatever was queued for us is read through, then EOF or a reset."""
    sock.settimeout(seconds)
    try:
        while sock.recv(1 << 20):
            pass
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False
    return True


async def test_followers_that_cannot_keep_up_are_disconnected(tmp_path: Path) -> None:
    """They are not only forgotten: their sockets are closed and what was queued for them is
    released, and each is counted."""
    stuck_count = knob("stuck_clients", 50) // 5
    process = CollectorProcess(tmp_path / "data", *PATIENT, "--stream-write-timeout", "1").start()
    try:
        stuck = [stuck_socket(process.api_port) for _ in range(stuck_count)]
        await connected(process, stuck_count)
        rss_before = rss_mib(process)
        load = Load(process, workers=8)
        load._supply = (fat_review(r) for r in load._supply)
        await load.run_for(2.0)
        for _ in range(100):
            if metric(process, "logistis_stream_disconnects_total") >= stuck_count:
                break
            await asyncio.sleep(0.1)
        assert metric(process, 'logistis_stream_disconnects_total{reason="slow client"}') == (
            stuck_count
        )
        assert metric(process, "logistis_stream_clients") == 0
        for sock in stuck:
            assert await asyncio.to_thread(closed_by_peer, sock, 5.0)
            sock.close()
        # Nothing is held for them any more.
        assert rss_mib(process) - rss_before < 40
        assert load.denied == 0
    finally:
        assert await asyncio.to_thread(process.stop) == 0


def silent_socket(port: int) -> socket.socket:
    """A stream client with the buffers any client gets, that never reads."""
    sock = socket.create_connection(("127.0.0.1", port))
    sock.sendall(REQUEST)
    return sock


async def test_clients_that_never_read_are_cut_before_megabytes_of_ordinary_history(
    tmp_path: Path,
) -> None:
    """On loopback the kernel grows a socket's send buffer to 4 MiB and takes every write for
    a client that never reads, so the write timeout never fired: what one stream may hold is
    bounded, and such a client is disconnected within the timeout of filling it."""
    disconnected = 'logistis_stream_disconnects_total{reason="slow client"}'
    process = CollectorProcess(tmp_path / "data", *PATIENT, "--stream-write-timeout", "1").start()
    silent = [silent_socket(process.api_port) for _ in range(5)]
    live = Follower()
    live.task = asyncio.create_task(live.follow(process.api_port))
    load = Load(process, workers=4)
    try:
        await connected(process, len(silent) + 1)
        running = asyncio.create_task(load.run())
        for _ in range(600):
            if metric(process, disconnected) == len(silent) or live.bytes > 16 << 20:
                break
            await asyncio.sleep(0.1)
        flowed = live.bytes
        load.stop()
        await running
        assert metric(process, disconnected) == len(silent)
        # Each held at most what the capped buffers take plus a second of history.
        assert flowed < 3 << 20, f"{flowed} bytes of history before the last silent client was cut"
        for sock in silent:
            assert await asyncio.to_thread(closed_by_peer, sock, 5.0)
        await asyncio.sleep(0.5)
        assert live.received == len(load.acknowledged)
    finally:
        live.task.cancel()
        for sock in silent:
            sock.close()
        assert await asyncio.to_thread(process.stop) == 0

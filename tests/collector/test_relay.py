"""The relay between webhook workers and the writing process, both ends in one test process:
events committed by the real writer on a real SQLite file and answered as its own writer would
answer them, the token followed, the counts rendered once, and the end of the writing process
told to every waiting review."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
from msgspec import msgpack

from logistis.collector.admission.review import event_from_request, read_review
from logistis.collector.history.events import Event, RawJSON, json_value
from logistis.collector.history.query import EventQuery
from logistis.collector.metrics import Metrics
from logistis.collector.pipeline.relay import (
    UNREACHABLE,
    RelayClient,
    RelayServer,
    event_from_wire,
    event_to_wire,
)
from logistis.collector.pipeline.writer import COMMIT_TIMEOUT, NotRecorded
from logistis.collector.runtime import Runtime, open_runtime
from logistis.collector.settings import from_args
from logistis.collector.trust.callers import PathToken
from tests.collector.test_stream import fresh
from tests.support.fixtures import bodies
from tests.support.large import large_configmap_update


def _events(runtime: Runtime, reviews: list[dict]) -> list[Event]:
    events = []
    for body in reviews:
        review = read_review(orjson.dumps(body), whole=False)
        request = runtime.redactor.redact(review.request)
        events.append(event_from_request(request, datetime.now(UTC), runtime.kinds))
    return events


@pytest.fixture
async def runtime(tmp_path: Path) -> AsyncIterator[Runtime]:
    settings = from_args(["--data-dir", str(tmp_path / "data")], environ={})
    async with open_runtime(settings) as runtime:
        yield runtime


@pytest.fixture
async def relay(runtime: Runtime, tmp_path: Path) -> AsyncIterator[RelayServer]:
    runtime.kinds.learn("example.com", "widgets", "Widget")
    server = RelayServer(
        tmp_path / "relay.sock",
        runtime.writer,
        runtime.metrics,
        runtime.unready,
        PathToken("first-token"),
        runtime.kinds,
    )
    await server.start()
    yield server
    await server.close()


async def test_an_event_crosses_the_wire_whole(runtime: Runtime):
    secret = next(b for b in bodies() if b["request"]["kind"]["kind"] == "Secret")
    for event in _events(runtime, [*fresh(20), secret]):
        crossed = event_from_wire(msgpack.decode(msgpack.encode(event_to_wire(event))))
        assert abs((crossed.time - event.time).total_seconds()) < 1e-6
        for name in ("uid", "operation", "dry_run", "user", "resource", "namespace", "name"):
            assert getattr(crossed, name) == getattr(event, name)
        assert crossed.field_manager == event.field_manager
        assert crossed.options == event.options
        # Objects cross as JSON bytes: the same values, redacted ones (dicts) included.
        for mine, theirs in (
            (event.object, crossed.object),
            (event.old_object, crossed.old_object),
        ):
            assert (mine is None) == (theirs is None)
            if mine is not None:
                assert isinstance(theirs, RawJSON)
                assert json_value(theirs) == json_value(mine)


async def test_a_workers_events_are_committed_and_answered(runtime: Runtime, relay: RelayServer):
    client = await RelayClient.connect(relay.path, 0, Metrics(), 2.0)
    assert client.token == "first-token"
    assert client.kinds[("example.com", "widgets")] == "Widget"
    events = _events(runtime, fresh(30))
    await asyncio.gather(*(client.submit(event) for event in events))
    stored = await runtime.store.events_after(0, EventQuery(), 100)
    assert {e.uid for e in events} <= {e.uid for e in stored}
    assert await client.unready() is None
    await client.close()


async def test_the_writers_refusal_reaches_the_worker(runtime: Runtime, relay: RelayServer):
    client = await RelayClient.connect(relay.path, 0, Metrics(), 2.0)
    await runtime.writer.close()  # a writer that stops takes no more events
    with pytest.raises(NotRecorded) as refused:
        await client.submit(_events(runtime, fresh(1))[0])
    assert refused.value.reason == "shutting down"
    assert await client.unready() == "writer not running: stopped"
    await client.close()


async def test_a_new_token_reaches_every_worker(runtime: Runtime, tmp_path: Path):
    token = PathToken("first-token")
    server = RelayServer(
        tmp_path / "relay.sock",
        runtime.writer,
        runtime.metrics,
        runtime.unready,
        token,
        runtime.kinds,
    )
    await server.start()
    clients = [await RelayClient.connect(server.path, n, Metrics(), 2.0) for n in range(2)]
    followed: list[str] = []
    clients[0].on_token = followed.append
    token.set("renewed-token")
    await _until(lambda: all(c.token == "renewed-token" for c in clients))
    assert followed == ["renewed-token"]
    for client in clients:
        await client.close()
    await server.close()


async def test_the_end_of_the_writing_process_fails_what_waits(
    runtime: Runtime, relay: RelayServer
):
    client = await RelayClient.connect(relay.path, 0, Metrics(), 2.0)
    await relay.close()
    await asyncio.wait_for(client.lost.wait(), 5)
    with pytest.raises(NotRecorded) as unreachable:
        client.submit(_events(runtime, fresh(1))[0])
    assert unreachable.value.reason == UNREACHABLE
    assert await client.unready() == UNREACHABLE
    await client.close()


async def test_a_workers_counts_are_rendered_with_the_writing_processs(
    runtime: Runtime, relay: RelayServer
):
    counted = Metrics()
    counted.admission_requests.labels("recorded").inc(7)
    counted.admission_latency.observe(0.003)
    runtime.metrics.admission_requests.labels("recorded").inc(2)
    client = await RelayClient.connect(relay.path, 0, counted, 2.0)
    await client.close()  # its last counts go with its end
    await _until(lambda: b'outcome="recorded"} 9.0' in runtime.metrics.render())
    text = runtime.metrics.render().decode()
    assert "logistis_admission_latency_seconds_count 1.0" in text
    assert 'logistis_admission_latency_seconds_bucket{le="0.005"} 1.0' in text
    # Gone, its counts stay: a counter never goes back.
    await asyncio.sleep(0.1)
    assert (
        'logistis_admission_requests_total{outcome="recorded"} 9.0'
        in runtime.metrics.render().decode()
    )


async def _until(condition, seconds: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "not within the time"
        await asyncio.sleep(0.02)


async def test_a_writing_process_that_never_answers_costs_a_review_its_commit_timeout(
    runtime: Runtime, tmp_path: Path
):
    async def silent(reader: asyncio.StreamReader, link: asyncio.StreamWriter) -> None:
        await reader.readexactly(4)
        hello = msgpack.encode(["hello", None, []])
        link.write(len(hello).to_bytes(4, "big") + hello)
        await reader.read()  # takes everything, answers nothing

    server = await asyncio.start_unix_server(silent, path=str(tmp_path / "silent.sock"))
    client = await RelayClient.connect(tmp_path / "silent.sock", 0, Metrics(), 0.2)
    started = asyncio.get_running_loop().time()
    with pytest.raises(NotRecorded) as late:
        await asyncio.wait_for(client.submit(_events(runtime, fresh(1))[0]), 5)
    waited = asyncio.get_running_loop().time() - started
    assert late.value.reason == COMMIT_TIMEOUT
    assert waited >= 1.2  # the writer's commit timeout first, and a second more
    await client.close()
    server.close()


async def test_a_large_update_crosses_in_many_reads(runtime: Runtime, relay: RelayServer):
    client = await RelayClient.connect(relay.path, 0, Metrics(), 2.0)
    large = large_configmap_update(1)  # ~1.7 MB of JSON
    [event] = _events(runtime, [large])
    await asyncio.gather(
        client.submit(event), *(client.submit(e) for e in _events(runtime, fresh(5)))
    )
    listed = await runtime.store.events_after(0, EventQuery(), 10)
    [stored_id] = [e.id for e in listed if e.uid == event.uid]
    stored = await runtime.store.get_event(stored_id)
    assert stored is not None
    assert json_value(stored.object) == large["request"]["object"]
    await client.close()

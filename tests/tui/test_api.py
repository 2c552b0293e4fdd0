"""CollectorClient against a real collector on loopback, fed with the captured requests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from logistis.backoff import Backoff
from logistis.client import live
from logistis.client.api import CollectorClient, SSEParser
from logistis.client.events import Event, EventFilter
from logistis.client.live import LinkState, LinkStatus
from logistis.client.protocol import CollectorHTTPError, CollectorUnreachable
from tests.support.collector import CollectorProcess, free_port, post_reviews
from tests.support.fixtures import load


async def test_pages_walk_the_whole_history_newest_first(fed_collector: CollectorProcess) -> None:
    async with CollectorClient(fed_collector.api_url) as client:
        seen: list[Event] = []
        cursor = None
        while True:
            page = await client.events(EventFilter(), cursor=cursor, limit=60)
            seen.extend(page.items)
            if page.next is None:
                break
            cursor = page.next
        facets = await client.facets(EventFilter())
    ids = [e.id for e in seen]
    assert ids == sorted(ids, reverse=True)
    assert len(set(ids)) == len(ids) == facets.total


async def test_filters_reach_the_collector(fed_collector: CollectorProcess) -> None:
    wanted = EventFilter(namespace="team-a", kind="Deployment", user="alice", operation="UPDATE")
    async with CollectorClient(fed_collector.api_url) as client:
        page = await client.events(wanted)
        people = await client.events(EventFilter(people=True), limit=1000)
    assert page.items
    for event in page.items:
        assert (event.namespace, event.kind, event.user.username) == (
            "team-a",
            "Deployment",
            "alice",
        )
        assert event.operation == "UPDATE"
    assert people.items
    assert not any(e.user.is_machine for e in people.items)


async def test_one_event_in_full(fed_collector: CollectorProcess) -> None:
    filter = EventFilter(name="nginx", user="alice", kind="Deployment", operation="UPDATE")
    async with CollectorClient(fed_collector.api_url) as client:
        page = await client.events(filter)
        scale = next(e for e in page.items if e.resource.subresource == "scale")
        full = await client.event(scale.id)
    assert not scale.full
    assert scale.object is None
    assert full.full
    assert full.object is not None
    assert full.object["kind"] == "Scale"
    assert full.old_object is not None
    assert full.old_object["spec"]["replicas"] == 1
    assert full.object["spec"]["replicas"] == 3
    assert full.options is not None
    assert full == scale  # the same event, objects aside


async def test_namespaces_and_facets(fed_collector: CollectorProcess) -> None:
    async with CollectorClient(fed_collector.api_url) as client:
        namespaces = {n.namespace: n for n in await client.namespaces()}
        facets = await client.facets(EventFilter(namespace="team-a"))
    assert {"team-a", "team-b", "kube-system", ""} <= set(namespaces)
    assert namespaces["team-a"].count == facets.total
    assert any(k.kind == "Deployment" for k in namespaces["team-a"].kinds)
    users = {u.value: u for u in facets.users}
    assert not users["alice"].machine
    assert users["system:serviceaccount:kube-system:deployment-controller"].machine


async def test_a_bad_filter_is_a_one_line_http_error(fed_collector: CollectorProcess) -> None:
    async with CollectorClient(fed_collector.api_url) as client:
        with pytest.raises(CollectorHTTPError) as caught:
            await client.events(EventFilter(operation="EXPLODE"))
    assert caught.value.status == 400
    assert "operation" in str(caught.value)
    assert "\n" not in str(caught.value)


async def test_no_collector_is_unreachable() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    async with CollectorClient(url) as client:
        with pytest.raises(CollectorUnreachable, match=f"cannot reach the collector at {url}"):
            await client.namespaces()


def test_sse_parser_follows_the_standard() -> None:
    parser = SSEParser()
    lines = [": connected", "", "id: 7", "event: change", "data: {", "data: }", "", "data: x", ""]
    messages = [m for m in map(parser.feed, lines) if m is not None]
    assert [(m.event, m.data, m.id) for m in messages] == [
        ("change", "{\n}", "7"),
        ("message", "x", "7"),  # the last id persists
    ]


async def _take(stream: AsyncIterator[Event], count: int) -> list[Event]:
    return [await anext(stream) for _ in range(count)]


async def test_stream_resumes_after_an_id(fed_collector: CollectorProcess) -> None:
    async with CollectorClient(fed_collector.api_url) as client:
        page = await client.events(EventFilter(), limit=10)
        oldest = page.items[-1].id
        stream = client.stream(EventFilter(), after=oldest)
        got = await asyncio.wait_for(_take(stream, 9), 10)
        await stream.aclose()  # type: ignore[attr-defined]
    assert [e.id for e in got] == sorted(e.id for e in page.items[:-1])


async def test_follow_survives_a_collector_restart(tmp_path: Path) -> None:
    collector = CollectorProcess(tmp_path / "data").start()
    statuses: list[LinkStatus] = []
    try:
        post_reviews(collector, [load(143)["body"]])
        async with CollectorClient(collector.api_url) as client:
            follow = live.follow(
                client, EventFilter(), 0, statuses.append, Backoff(first=0.05, cap=0.2)
            )
            [first] = await asyncio.wait_for(_take(follow, 1), 10)
            await asyncio.to_thread(collector.stop)
            await asyncio.to_thread(collector.start)
            await asyncio.to_thread(post_reviews, collector, [load(144)["body"]])
            [second] = await asyncio.wait_for(_take(follow, 1), 20)
            await follow.aclose()  # type: ignore[attr-defined]
    finally:
        collector.stop()
    assert (first.name, first.operation) == ("app-config", "CREATE")
    assert (second.name, second.operation, second.id) == ("app-config", "UPDATE", first.id + 1)
    states = [s.state for s in statuses]
    assert states[:2] == [LinkState.CONNECTING, LinkState.LIVE]
    assert LinkState.RECONNECTING in states
    assert states[-1] == LinkState.LIVE

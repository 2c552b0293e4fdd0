"""The live stream: new events as they are committed, resumed after Last-Event-ID without gaps."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator

import httpx

from tests.support.collector import CollectorProcess, post_reviews
from tests.support.fixtures import bodies


def fresh(count: int, start: int = 100) -> list[dict]:
    """Fixture bodies with new uids, as the apiserver would send for new requests."""
    chosen = [b for b in bodies() if not b["request"]["dryRun"]][start : start + count]
    for body in chosen:
        body["request"]["uid"] = str(uuid.uuid4())
    return chosen


def messages(lines: Iterator[str]) -> Iterator[dict[str, str]]:
    message: dict[str, str] = {}
    for line in lines:
        if line == "":
            if message:
                yield message
            message = {}
        elif not line.startswith(":"):
            key, _, value = line.partition(": ")
            message[key] = value


def read_stream(collector: CollectorProcess, count: int, headers=None, **params) -> list[dict]:
    received: list[dict] = []
    with (
        httpx.Client(base_url=collector.api_url, timeout=10) as client,
        client.stream("GET", "/api/v1/stream", params=params, headers=headers or {}) as response,
    ):
        assert response.headers["content-type"] == "text/event-stream"
        for message in messages(response.iter_lines()):
            received.append(message)
            if len(received) == count:
                break
    return received


def test_live_events_arrive_in_order_with_their_ids(store_collector):
    reviews = fresh(5)
    result: list[dict] = []
    reader = threading.Thread(target=lambda: result.extend(read_stream(store_collector, 5)))
    reader.start()
    # The reader subscribes from "now": give it a moment to connect before posting.
    connected = threading.Event()
    connected.wait(0.5)
    post_reviews(store_collector, reviews)
    reader.join(10)
    assert [m["event"] for m in result] == ["change"] * 5
    ids = [int(m["id"]) for m in result]
    assert ids == sorted(ids)
    assert len(set(ids)) == 5

    assert [json.loads(m["data"])["uid"] for m in result] == [r["request"]["uid"] for r in reviews]


def test_resume_after_last_event_id_has_no_gap_and_no_duplicate(store_collector):
    post_reviews(store_collector, fresh(10))
    first = read_stream(store_collector, 4, after="0")
    last_id = first[-1]["id"]
    post_reviews(store_collector, fresh(6, start=120))
    rest = read_stream(store_collector, 12, headers={"Last-Event-ID": last_id})
    ids = [int(m["id"]) for m in first + rest]
    assert ids == list(range(1, 17))


def test_stream_applies_filters(store_collector):
    post_reviews(store_collector, fresh(60, start=40))
    with store_collector.client() as client:
        expected = [
            e["id"]
            for e in client.get("/api/v1/events", params={"user": "alice", "limit": 1000}).json()[
                "items"
            ]
        ]
    received = read_stream(store_collector, len(expected), after="0", user="alice")
    assert sorted(int(m["id"]) for m in received) == sorted(expected)

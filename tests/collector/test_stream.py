"""The live stream: new events as they are committed, resumed after Last-Event-ID without gaps."""

from __future__ import annotations

import contextlib
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


def post_until_refused(collector: CollectorProcess) -> None:
    with contextlib.suppress(httpx.TransportError):
        post_reviews(collector, fresh(40))


class Follower(threading.Thread):
    """A stream client that reads until the collector ends the stream, and says how it ended."""

    def __init__(self, collector: CollectorProcess) -> None:
        super().__init__(daemon=True)
        self.url = f"{collector.api_url}/api/v1/stream"
        self.connected = threading.Event()
        self.received = 0
        self.error: Exception | None = None

    def run(self) -> None:
        try:
            with httpx.stream("GET", self.url, timeout=30) as response:
                for line in response.iter_lines():
                    self.connected.set()
                    self.received += line.startswith("id: ")
        except httpx.HTTPError as error:
            self.error = error


def test_a_clean_stop_with_streams_open_logs_no_error(store_collector):
    """SIGTERM while followers take events: each stream ends as a complete response at once,
    and nothing is logged at error level (was: `Cannot call write() after write_eof()`)."""
    followers = [Follower(store_collector) for _ in range(4)]
    for follower in followers:
        follower.start()
    assert all(f.connected.wait(10) for f in followers)
    # Events in flight as the stop comes: some followers are writing when it does.
    posting = threading.Thread(target=post_until_refused, args=(store_collector,))
    posting.start()
    while not any(f.received for f in followers):
        threading.Event().wait(0.01)
    assert store_collector.stop() == 0
    posting.join(30)
    for follower in followers:
        follower.join(10)
        assert not follower.is_alive()
        assert follower.error is None, follower.error
    lines = [json.loads(line) for line in store_collector.log.read_text().splitlines()]
    errors = [line for line in lines if line["level"] in ("error", "critical")]
    assert errors == []

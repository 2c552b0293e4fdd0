"""Several collectors on one PostgreSQL database serve one history: what one records, another
streams (its listener woken by the commit's NOTIFY), and a Secret gets one digest whichever
collector recorded it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.collector.test_recording import all_events
from tests.collector.test_stream import fresh, messages
from tests.support.collector import CollectorProcess, post_reviews, wait_for
from tests.support.fixtures import load
from tests.support.postgres import PostgresServer, psql
from tests.support.replicas import replicas

# Below the stream's 15 s ping: a stream that only learnt of the other collector's commits on
# its ping would time out here.
DELIVERY_SECONDS = 10.0


@pytest.fixture
def two(tmp_path: Path, postgres: PostgresServer) -> Iterator[list[CollectorProcess]]:
    with replicas(tmp_path, postgres.create_database(), 2) as collectors:
        yield collectors


class Stream:
    """A live stream held open on one collector, connected before anything is posted."""

    def __init__(self, collector: CollectorProcess, headers: dict[str, str] | None = None):
        self._client = httpx.Client(base_url=collector.api_url, timeout=DELIVERY_SECONDS)
        self._response = self._client.send(
            self._client.build_request("GET", "/api/v1/stream", headers=headers or {}),
            stream=True,
        )
        self._lines = self._response.iter_lines()
        assert next(self._lines) == ": connected"

    def take(self, count: int) -> list[dict[str, str]]:
        received: list[dict[str, str]] = []
        for message in messages(self._lines):
            received.append(message)
            if len(received) == count:
                break
        return received

    def close(self) -> None:
        self._response.close()
        self._client.close()


def uids(received: list[dict[str, str]]) -> list[str]:
    return [httpx.Response(200, content=m["data"]).json()["uid"] for m in received]


def test_an_event_recorded_by_one_collector_reaches_a_stream_on_the_other(two):
    a, b = two
    stream = Stream(b)
    try:
        # Nothing is posted to b: only a's commits can wake its stream.
        reviews = fresh(6)
        post_reviews(a, reviews)
        received = stream.take(6)
    finally:
        stream.close()
    assert uids(received) == [r["request"]["uid"] for r in reviews]
    assert [int(m["id"]) for m in received] == list(range(1, 7))


def test_the_stream_keeps_up_after_its_listener_is_cut_and_resumes_without_gap(two):
    a, b = two
    url = a.env["LOGISTIS_STORE"]
    stream = Stream(b)
    try:
        post_reviews(a, fresh(2))
        first = stream.take(2)
        # The server drops every listener (as in a failover); each collector opens its own again.
        # Both are listening first: a collector opens its listener after it is ready.
        listeners = (
            "FROM pg_stat_activity WHERE datname = current_database()"
            " AND application_name = 'logistis-collector-listener'"
        )
        assert wait_for(lambda: psql(url, f"SELECT count(*) {listeners}") == ["2"], 10)
        assert psql(url, f"SELECT count(pg_terminate_backend(pid)) {listeners}") == ["2"]
        post_reviews(a, fresh(3, start=120))
        second = stream.take(3)
    finally:
        stream.close()
    # A client that went away resumes on the other collector after its Last-Event-ID.
    post_reviews(b, fresh(4, start=140))
    resumed = Stream(a, headers={"Last-Event-ID": second[-1]["id"]})
    try:
        rest = resumed.take(4)
    finally:
        resumed.close()
    assert [int(m["id"]) for m in first + second + rest] == list(range(1, 10))


def test_a_secret_posted_through_either_collector_gets_one_digest(two):
    for collector in two:
        review = load(145)["body"]
        review["request"]["uid"] = str(uuid.uuid4())
        assert post_reviews(collector, [review])[0].status_code == 200
    served = []
    for collector, event in zip(two, all_events(two[0]), strict=True):
        with collector.client() as client:
            served.append(client.get(f"/api/v1/events/{event['id']}").json()["object"]["data"])
    assert served[0] == served[1]
    assert all(str(v).startswith("redacted:sha256:") for v in served[0].values())

"""Hostile bodies on /validate: a JSON 4xx and nothing stored, or allowed and still recording.

Never a 5xx, never `allowed: false`, never a crash.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.collector import CollectorProcess

from .hostile import bases, broken_reviews, odd_reviews
from .load import (
    PATIENT,
    Review,
    database,
    event_count,
    fresh_review,
    recorded_fixtures,
    stored_uids,
)
from .scale import knob, report

EXAMPLES = knob("fuzz_examples", 200)
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
CONTENT_TYPES = (
    "text/plain",
    "application/x-www-form-urlencoded",
    "application/yaml",
    "application/merge-patch+json",
    "multipart/form-data; boundary=x",
    "application/octet-stream",
)
Target = tuple[CollectorProcess, httpx.Client]
cases = {"broken": 0, "odd": 0, "content type": 0}


@pytest.fixture(scope="module")
def target(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Target]:
    # What is tested here is that recording goes on, not how fast on two cores shared with
    # the fuzzer.
    collector = CollectorProcess(tmp_path_factory.mktemp("fuzz") / "data", *PATIENT).start()
    try:
        with collector.webhook_client() as client:
            yield collector, client
    finally:
        assert collector.stop() == 0, "the collector survives the fuzz and stops cleanly"
        report("webhook fuzz cases", sum(cases.values()))


def post(
    client: httpx.Client, collector: CollectorProcess, body: bytes, content_type: str
) -> httpx.Response:
    return client.post(
        f"{collector.webhook_url}?timeout=5s", content=body, headers={"Content-Type": content_type}
    )


def assert_json_4xx(response: httpx.Response) -> None:
    assert 400 <= response.status_code < 500, response.text[:300]
    error = response.json()
    assert isinstance(error["error"], str)
    assert '"allowed":false' not in response.text.replace(" ", "")


@FUZZ
@given(body=broken_reviews)
def test_broken_reviews_are_a_json_4xx_and_store_nothing(target: Target, body: bytes) -> None:
    collector, client = target
    before = event_count(database(collector))
    assert_json_4xx(post(client, collector, body, "application/json"))
    assert event_count(database(collector)) == before
    cases["broken"] += 1


@FUZZ
@given(body=odd_reviews)
def test_odd_contents_are_allowed_and_recording_goes_on(target: Target, body: bytes) -> None:
    collector, client = target
    response = post(client, collector, body, "application/json")
    assert response.status_code == 200, response.text[:300]
    assert response.json()["response"]["allowed"] is True
    # Whatever that body did inside the collector, the next ordinary event is recorded.
    follow = fresh_review(recorded_fixtures()[0])
    assert client.post(collector.webhook_url, json=follow).json()["response"]["allowed"] is True
    assert follow["request"]["uid"] in stored_uids(database(collector))
    cases["odd"] += 1


@FUZZ
@given(review=bases, content_type=st.sampled_from(CONTENT_TYPES))
def test_wrong_content_type_is_a_415(target: Target, review: Review, content_type: str) -> None:
    collector, client = target
    before = event_count(database(collector))
    response = client.post(
        collector.webhook_url, json=review, headers={"Content-Type": content_type}
    )
    assert response.status_code == 415
    assert_json_4xx(response)
    assert event_count(database(collector)) == before
    cases["content type"] += 1

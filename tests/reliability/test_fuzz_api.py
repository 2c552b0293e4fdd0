"""Hostile queries on the API: a JSON 4xx or a correct answer, never a 5xx, nothing changed."""

from __future__ import annotations

import base64
import socket
from collections.abc import Iterator
from urllib.parse import quote, urlencode

import httpx
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from logistis.collector.history.query import FILTERS, PAGING
from tests.support.collector import CollectorProcess

from .load import database, event_count, integrity
from .scale import knob, report

FUZZ = settings(
    max_examples=knob("fuzz_examples", 200),
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
# aiohttp's parser answers a request line or header past 8190 bytes itself (a plain 4xx).
LINE_LIMIT = 8190
ENDPOINTS = (
    "/api/v1/events",
    "/api/v1/facets",
    "/api/v1/namespaces",
    "/api/v1/stream",
    "/api/v1/openapi.json",
    "/metrics",
    "/healthz",
    "/readyz",
)
text = st.text(st.characters(exclude_categories=("Cs",)), max_size=30)
numbers = st.one_of(
    st.integers(-(2**80), 2**80).map(str),
    st.sampled_from(["²", "٣", "1²", "0x10", "1e3", "1_000", " 1", "1 ", "+1", "-0", "", "0"]),
)
# Past Python's 4300-digit limit for int(); long text.
long_values = st.integers(4290, 4400).map(lambda n: "9" * n) | st.text(min_size=300, max_size=600)
times = st.one_of(
    st.tuples(st.integers(0, 10**20), st.sampled_from("smhdwyZz")).map(lambda t: f"{t[0]}{t[1]}"),
    st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat()),
    st.sampled_from(["9999-12-31T23:59:59+14:00", "0001-01-01T00:00:00-14:00", "now", "T"]),
)
cursors = st.one_of(
    text,
    st.tuples(text, numbers).map(
        lambda t: base64.urlsafe_b64encode(f"{t[0]}:{t[1]}".encode()).decode().rstrip("=")
    ),
    numbers.map(lambda n: base64.urlsafe_b64encode(f"v1:{n}".encode()).decode()),
)
values = st.one_of(text, numbers, times, cursors, long_values)
names = st.sampled_from((*FILTERS, *PAGING, "after")) | text
queries = st.lists(st.tuples(names, values), max_size=5)
paths = st.sampled_from(ENDPOINTS) | st.one_of(text, numbers, long_values).map(
    lambda s: "/api/v1/events/" + quote(s, safe="")
)
Target = tuple[CollectorProcess, httpx.Client]
cases = {"api": 0, "raw": 0}


@pytest.fixture(scope="module")
def api(fed_collector: CollectorProcess) -> Iterator[Target]:
    before = event_count(database(fed_collector))
    with fed_collector.client() as client:
        yield fed_collector, client
    assert event_count(database(fed_collector)) == before
    assert integrity(database(fed_collector)) == "ok"
    assert fed_collector.process is not None
    assert fed_collector.process.poll() is None
    report("API fuzz cases", sum(cases.values()))


def assert_answered(response: httpx.Response) -> None:
    assert response.status_code < 500, response.text[:300]
    if response.status_code >= 400:
        assert response.headers["Content-Type"].startswith("application/json")
        assert isinstance(response.json()["error"], str)


@FUZZ
@given(path=paths, params=queries, last_event_id=st.none() | numbers | text)
def test_any_query_is_answered_without_a_server_error(
    api: Target, path: str, params: list[tuple[str, str]], last_event_id: str | None
) -> None:
    _collector, client = api
    # Within the request-line limit; past it is test_oversized_request_lines_are_refused_with_a_4xx.
    assume(len(path) + len(urlencode(params)) < LINE_LIMIT - 200)
    headers = {}
    if last_event_id and last_event_id.isascii() and last_event_id.isprintable():
        headers["Last-Event-ID"] = last_event_id.strip() or "0"
    with client.stream("GET", path, params=params, headers=headers, timeout=10) as response:
        if response.headers.get("Content-Type", "").startswith("text/event-stream"):
            assert response.status_code == 200
        else:
            response.read()
            assert_answered(response)
    cases["api"] += 1


raw_targets = st.lists(
    st.sampled_from(
        [b"/api/v1/events?", b"%", b"%ff", b"%zz", b"\xff", b"\xc3\x28", b"&", b"=", b";",
         b"namespace", b"kind", b"limit", b"cursor", b"q", b"..", b"/", b"%2e%2e%2f", b"\x00"]
    ),
    max_size=12,
).map(b"".join)  # fmt: skip


def raw_status(port: int, target: bytes) -> int:
    """Send a GET for `target` byte for byte, as no HTTP client would; the answer's status."""
    request = b"GET " + target + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        return int(sock.makefile("rb").readline().split()[1])


@FUZZ
@given(target=raw_targets)
def test_raw_request_targets_never_break_the_server(api: Target, target: bytes) -> None:
    """The parser may refuse such bytes itself, with a 4xx; never a 5xx."""
    collector, _ = api
    status = raw_status(collector.api_port, b"/api/v1/events?" + target)
    assert 200 <= status < 500
    cases["raw"] += 1


@pytest.mark.parametrize("size", [LINE_LIMIT + 1, 100_000, 1_000_000])
def test_oversized_request_lines_are_refused_with_a_4xx(api: Target, size: int) -> None:
    collector, client = api
    assert 400 <= raw_status(collector.api_port, b"/api/v1/events?q=" + b"x" * size) < 500
    assert client.get("/readyz").status_code == 200

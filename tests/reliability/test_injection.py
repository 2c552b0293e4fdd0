"""SQL injection through every filter, and path traversal through every URL: the answers stay
exactly what the filters mean, the tables stay intact, and no file is ever served."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.collector import CollectorProcess

from .load import database, event_count, integrity, query

INJECTIONS = (
    "' OR '1'='1",
    "' OR 1=1 --",
    "x'; DROP TABLE events; --",
    '" OR ""="',
    "1) OR (1=1",
    "') UNION SELECT sqlite_version(), 1, 2 --",
    "*' OR username GLOB '*",
    "%' OR '%'='",
    "team-a' --",
    "\\'; DELETE FROM stats; --",
)
TEXT_FILTERS = ("namespace", "kind", "group", "name", "user", "q")
CHECKED_FILTERS = ("operation", "people", "since", "until", "limit", "cursor")
# Text meaningful to LIKE and GLOB; the API matches it literally. A NUL ended LIKE's pattern
# (C strings): `q=%00zzzz` matched every event.
WILDCARDS = ("%", "_", "\\", "[a-z]*", "?", "*", "a%", "kube_system", "team-?", "[")
NULS = ("\x00zzzz", "\x00", "team-a\x00", "\x00team-a")
TRAVERSALS = (
    b"/api/v1/../../../../etc/passwd",
    b"/api/v1/events/..%2f..%2f..%2fetc%2fpasswd",
    b"/api/v1/events/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    b"/api/v1/openapi.json/../../../../etc/passwd",
    b"/..%252f..%252f..%252fetc/passwd",
    b"//etc/passwd",
    b"/static/../../../../etc/passwd",
    b"/api/v1/events/1/../../../../proc/self/environ",
    b"/validate/../../../../etc/shadow",
)


@pytest.fixture(scope="module")
def everything(fed_collector: CollectorProcess) -> Iterator[list[dict[str, Any]]]:
    """All events, read before the attacks; the same must be there after them."""
    db = database(fed_collector)
    tables = query(db, "SELECT name, sql FROM sqlite_schema ORDER BY name")
    count = event_count(db)
    with fed_collector.client() as client:
        yield client.get("/api/v1/events", params={"limit": 1000}).json()["items"]
    assert query(db, "SELECT name, sql FROM sqlite_schema ORDER BY name") == tables
    assert event_count(db) == count
    assert integrity(db) == "ok"


def events(collector: CollectorProcess, **params: str) -> httpx.Response:
    with collector.client() as client:
        return client.get("/api/v1/events", params={"limit": "1000", **params})


@pytest.mark.parametrize("payload", INJECTIONS)
@pytest.mark.parametrize("name", TEXT_FILTERS)
def test_injection_through_a_text_filter_matches_nothing(
    fed_collector: CollectorProcess, everything: list[dict[str, Any]], name: str, payload: str
) -> None:
    answer = events(fed_collector, **{name: payload})
    assert answer.status_code == 200
    assert answer.json()["items"] == []
    with fed_collector.client() as client:
        facets = client.get("/api/v1/facets", params={name: payload}).json()
    assert facets["total"] == 0


@pytest.mark.parametrize("payload", INJECTIONS)
@pytest.mark.parametrize("name", CHECKED_FILTERS)
def test_injection_through_a_checked_parameter_is_a_400(
    fed_collector: CollectorProcess, everything: list[dict[str, Any]], name: str, payload: str
) -> None:
    answer = events(fed_collector, **{name: payload})
    assert answer.status_code == 400
    assert name in answer.json()["error"]


def matches_text(event: dict[str, Any], text: str) -> bool:
    fields = (
        event["user"]["username"],
        event["namespace"],
        event["name"],
        event["resource"]["kind"],
        event["fieldManager"],
    )
    # SQLite's LIKE folds ASCII case only, as this does for the ASCII text searched here.
    return any(text.lower() in field.lower() for field in fields)


@pytest.mark.parametrize("text", WILDCARDS + NULS)
def test_wildcard_characters_are_matched_literally(
    fed_collector: CollectorProcess, everything: list[dict[str, Any]], text: str
) -> None:
    found = events(fed_collector, q=text).json()["items"]
    assert [e["id"] for e in found] == [e["id"] for e in everything if matches_text(e, text)]
    users = events(fed_collector, user=text).json()["items"]
    if "*" in text:
        return  # `*` is the user filter's one documented wildcard
    assert [e["id"] for e in users] == [
        e["id"] for e in everything if e["user"]["username"] == text
    ]


def test_a_real_value_still_matches(
    fed_collector: CollectorProcess, everything: list[dict[str, Any]]
) -> None:
    team_a = [e["id"] for e in everything if e["namespace"] == "team-a"]
    assert team_a
    assert [e["id"] for e in events(fed_collector, namespace="team-a").json()["items"]] == team_a


def raw_get(port: int, target: bytes, tls: ssl.SSLContext | None = None) -> tuple[int, bytes]:
    request = b"GET " + target + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        stream = tls.wrap_socket(sock, server_hostname="localhost") if tls else sock
        stream.sendall(request)
        answer = b""
        while chunk := stream.recv(65536):
            answer += chunk
    return int(answer.split(b" ", 2)[1]), answer


@pytest.mark.parametrize("target", TRAVERSALS)
def test_no_path_reaches_a_file(fed_collector: CollectorProcess, target: bytes) -> None:
    for port, tls in (
        (fed_collector.api_port, None),
        (fed_collector.webhook_port, fed_collector.ssl_context()),
    ):
        status, answer = raw_get(port, target, tls)
        assert 400 <= status < 500
        assert b"root:" not in answer
        assert b"PATH=" not in answer

"""The drain after SIGTERM (`--drain-seconds`) as the apiserver's HTTP client meets it.

The apiserver calls webhooks through Go's net/http transport: it keeps each connection and
sends its next review on it unless the answer said `Connection: close`, and it does not retry
a POST that meets a connection closed under it: the review is let through unrecorded
(`failurePolicy: Ignore`). So a draining collector must say `Connection: close` on every
answer it closes after, and must not close an idle connection while its caller may be
sending on it.
"""

from __future__ import annotations

import http.client
import json
import select
import signal
import ssl
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pytest

from tests.support.collector import CollectorProcess, wait_for

from .load import PATIENT, database, reviews, stored_uids

DRAIN_SECONDS = 3.0


class KeepAliveClient:
    """One connection, kept for every request while the server keeps it, as Go's transport
    keeps it: reopened only after an answer with `Connection: close`, or when the server
    closed it while it was idle (Go's read loop sees that EOF before the next request)."""

    def __init__(self, collector: CollectorProcess) -> None:
        self.collector = collector
        self.connection: http.client.HTTPSConnection | None = None
        self.opened = 0

    def post(self, review: dict[str, object]) -> http.client.HTTPResponse:
        if self.connection is None or self.closed_by_server():
            self.connection = http.client.HTTPSConnection(
                "127.0.0.1",
                self.collector.webhook_port,
                context=self.collector.ssl_context(),
                timeout=10,
            )
            self.opened += 1
        path = self.collector.webhook_url.split(str(self.collector.webhook_port), 1)[1]
        headers = {"Content-Type": "application/json"}
        self.connection.request("POST", path, json.dumps(review).encode(), headers)
        answer = self.connection.getresponse()
        answer.read()
        if answer.will_close:
            self.connection.close()
            self.connection = None
        return answer

    def closed_by_server(self) -> bool:
        """Whether the idle connection's socket has seen the server's close."""
        assert self.connection is not None
        sock = self.connection.sock
        if sock is None:
            return True
        if not select.select([sock], [], [], 0)[0]:
            return False
        try:
            sock.setblocking(False)
            return sock.recv(1) == b""
        except ssl.SSLWantReadError:
            return False  # a TLS record only (a session ticket): still open
        except OSError:
            return True
        finally:
            sock.setblocking(True)


@dataclass
class Sent:
    acknowledged: set[str] = field(default_factory=set)
    failed: list[str] = field(default_factory=list)
    closing: int = 0
    """Answers during the drain that said `Connection: close`."""
    during_drain: int = 0


def draining(collector: CollectorProcess) -> bool:
    try:
        return httpx.get(f"{collector.api_url}/readyz", timeout=1).status_code == 503
    except httpx.TransportError:
        return False


@pytest.fixture
def collector(tmp_path) -> Iterator[CollectorProcess]:
    process = CollectorProcess(
        tmp_path / "data", *PATIENT, "--drain-seconds", str(DRAIN_SECONDS)
    ).start()
    yield process
    process.stop()


def send(client: KeepAliveClient, review: dict[str, object], sent: Sent, drain: bool) -> None:
    uid = str(review["request"]["uid"])  # type: ignore[index]
    try:
        answer = client.post(review)
    except (OSError, http.client.HTTPException) as error:
        # Go's transport does not retry a POST: the apiserver lets this write through unrecorded.
        sent.failed.append(f"{type(error).__name__}: {error}")
        client.connection = None
        return
    if answer.status == 200:
        sent.acknowledged.add(uid)
    else:
        sent.failed.append(str(answer.status))
    if drain:
        sent.during_drain += 1
        sent.closing += answer.getheader("Connection", "").lower() == "close"


def test_keep_alive_requests_across_sigterm_are_all_answered_and_recorded(
    collector: CollectorProcess,
) -> None:
    supply = reviews()
    busy, idle, sent = KeepAliveClient(collector), KeepAliveClient(collector), Sent()
    for _ in range(5):
        send(busy, next(supply), sent, drain=False)
    send(idle, next(supply), sent, drain=False)
    assert busy.opened == idle.opened == 1  # kept alive before the drain

    assert collector.process is not None
    collector.process.send_signal(signal.SIGTERM)
    assert wait_for(lambda: draining(collector), 2)
    drain_end = time.monotonic() + DRAIN_SECONDS - 1.0
    # Back to back, as the apiserver sends under load: the next review goes out as soon as the
    # answer is read, before the server's close of a connection could be seen.
    while time.monotonic() < drain_end:
        send(busy, next(supply), sent, drain=True)
    send(idle, next(supply), sent, drain=True)

    assert collector.process.wait(20) == 0
    assert sent.failed == []
    assert sent.during_drain > 10
    assert sent.closing == sent.during_drain
    assert sent.acknowledged <= stored_uids(database(collector))


def test_an_idle_connection_is_kept_through_the_drain_and_closed_after_its_next_answer(
    collector: CollectorProcess,
) -> None:
    idle = KeepAliveClient(collector)
    assert idle.post(next(reviews())).status == 200
    assert collector.process is not None
    collector.process.send_signal(signal.SIGTERM)
    assert wait_for(lambda: draining(collector), 2)
    # Not closed under its caller: a review sent on it as it closed would be lost.
    time.sleep(0.5)
    assert not idle.closed_by_server()
    answer = idle.post(next(reviews()))
    assert answer.status == 200
    assert answer.will_close
    assert idle.opened == 1
    assert collector.process.wait(20) == 0

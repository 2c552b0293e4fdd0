"""Only the apiserver writes history: a made-up review from anyone else is refused and leaves no
trace in the store.

The apiserver proves itself by the path token it reads from the webhook configuration, and,
where it is configured to present one, by its client certificate.
"""

from __future__ import annotations

import json
import ssl
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import trustme

from tests.support.collector import CollectorProcess, run_collector_command, webhook_socket

from .load import database, event_count, metric, stored_uids
from .load import reviews as supply

TOKEN = "a-test-token-of-more-than-sixteen-characters"


def post(
    collector: CollectorProcess, path: str, tls: ssl.SSLContext | None = None
) -> tuple[httpx.Response, str]:
    review = next(supply())
    url = f"https://127.0.0.1:{collector.webhook_port}{path}"
    with httpx.Client(verify=tls or collector.ssl_context(), timeout=10) as client:
        return client.post(url, json=review), review["request"]["uid"]


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CollectorProcess]:
    with CollectorProcess(tmp_path_factory.mktemp("token") / "data", token=TOKEN) as process:
        yield process


@pytest.mark.parametrize(
    "path",
    [
        "/validate",
        "/validate/",
        "/validate/wrong",
        f"/validate/{TOKEN[:-1]}",
        f"/validate/{TOKEN}x",
        f"/validate/{TOKEN.upper()}",
        f"/validate/{TOKEN}/extra",
        f"/{TOKEN}",
    ],
)
def test_a_review_without_the_token_is_refused_and_leaves_no_trace(
    guarded: CollectorProcess, path: str
) -> None:
    before = event_count(database(guarded))
    answer, uid = post(guarded, path)
    assert answer.status_code in (403, 404, 405), answer.text
    assert answer.json()["error"]
    assert "allowed" not in answer.text
    assert event_count(database(guarded)) == before
    assert uid not in stored_uids(database(guarded))


def test_the_apiserver_with_the_token_is_recorded(guarded: CollectorProcess) -> None:
    answer, uid = post(guarded, f"/validate/{TOKEN}")
    assert answer.status_code == 200
    assert answer.json()["response"]["allowed"] is True
    assert uid in stored_uids(database(guarded))


def send_expecting_continue(collector: CollectorProcess, path: str) -> tuple[bytes, bytes]:
    """Headers with `Expect: 100-continue`, then the body only if invited: the first answer,
    and what follows the body (b"" when not sent)."""
    body = json.dumps(next(supply())).encode()
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nExpect: 100-continue\r\n\r\n"
    )
    with webhook_socket(collector) as tls:
        tls.sendall(head.encode())
        first = tls.recv(65536)
        if not first.startswith(b"HTTP/1.1 100 "):
            return first, b""
        tls.sendall(body)
        return first, tls.recv(65536)


def test_a_wrong_token_expecting_continue_gets_its_403_without_100_continue(
    guarded: CollectorProcess,
) -> None:
    first, after_body = send_expecting_continue(guarded, "/validate/wrong")
    assert first.startswith(b"HTTP/1.1 403 "), first
    assert b"100 Continue" not in first
    assert after_body == b""


def test_the_right_token_expecting_continue_is_invited_and_recorded(
    guarded: CollectorProcess,
) -> None:
    first, after_body = send_expecting_continue(guarded, f"/validate/{TOKEN}")
    assert first == b"HTTP/1.1 100 Continue\r\n\r\n"
    assert after_body.startswith(b"HTTP/1.1 200 ")


def test_forged_reviews_are_counted(guarded: CollectorProcess) -> None:
    before = metric(guarded, 'logistis_admission_requests_total{outcome="forbidden"}')
    post(guarded, "/validate")
    after = metric(guarded, 'logistis_admission_requests_total{outcome="forbidden"}')
    assert after == before + 1


@pytest.mark.parametrize(
    "token",
    [
        "short",
        # Characters a request path cannot carry as they are, or the apiserver refuses in a
        # webhook's path: every review would be a 403, and recording would fail open silently.
        *(f"a-token-of-sixteen{c}chars" for c in ("%", "?", "#", "/", " ", "\t", "_", "A", "é")),
        "-a-token-of-sixteen-chars",
        "a-token-of-sixteen-chars.",
    ],
)
def test_a_token_that_can_never_match_is_refused_at_start_in_one_line(
    tmp_path: Path, token: str
) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(token + "\n")
    result = run_collector_command(
        ["--data-dir", str(tmp_path / "data"), "--webhook-token-file", str(token_file)]
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert "--webhook-token-file" in result.stderr
    assert "lowercase letters, digits" in result.stderr
    assert not (tmp_path / "data").exists()


@pytest.fixture(scope="module")
def apiserver_ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module", params=[1, 2], ids=["one-process", "two-workers"])
def certified(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    apiserver_ca: trustme.CA,
) -> Iterator[CollectorProcess]:
    """With the token and the client CA; the same gate in each webhook worker (`--workers`)."""
    data = tmp_path_factory.mktemp("client-ca") / "data"
    data.mkdir()
    ca_file = data.parent / "apiserver-ca.pem"
    apiserver_ca.cert_pem.write_to_path(str(ca_file))
    flags = ("--client-ca-file", str(ca_file), "--workers", str(request.param))
    with CollectorProcess(data, *flags, token=TOKEN) as process:
        yield process


def client_tls(collector: CollectorProcess, ca: trustme.CA | None) -> ssl.SSLContext:
    tls = collector.ssl_context()
    if ca is not None:
        ca.issue_cert("kube-apiserver-webhook-client").configure_cert(tls)
    return tls


def test_with_client_ca_the_apiserver_certificate_is_recorded(
    certified: CollectorProcess, apiserver_ca: trustme.CA
) -> None:
    answer, uid = post(certified, f"/validate/{TOKEN}", client_tls(certified, apiserver_ca))
    assert answer.status_code == 200
    assert uid in stored_uids(database(certified))


def test_with_client_ca_a_caller_without_a_certificate_is_refused(
    certified: CollectorProcess,
) -> None:
    before = event_count(database(certified))
    answer, _ = post(certified, f"/validate/{TOKEN}", client_tls(certified, None))
    assert answer.status_code == 403
    assert event_count(database(certified)) == before
    # The probes need no certificate.
    with httpx.Client(verify=certified.ssl_context()) as client:
        url = f"https://127.0.0.1:{certified.webhook_port}/healthz"
        assert client.get(url).status_code == 200


def test_with_client_ca_a_certificate_from_another_ca_is_refused(
    certified: CollectorProcess,
) -> None:
    before = event_count(database(certified))
    # OpenSSL refuses the chain in the handshake: the request is never sent.
    with pytest.raises(httpx.TransportError):
        post(certified, f"/validate/{TOKEN}", client_tls(certified, trustme.CA()))
    assert event_count(database(certified)) == before

"""The webhook port speaks TLS 1.2 or newer, with forward-secret AEAD suites only."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator

import pytest

from tests.support.collector import CollectorProcess

# Errors the client raises before sending anything: those would prove nothing about the server.
LOCAL_REFUSALS = {"NO_PROTOCOLS_AVAILABLE", "NO_CIPHERS_AVAILABLE", "UNSUPPORTED_PROTOCOL"}
WEAK_SUITES = (
    "ECDHE-ECDSA-AES128-SHA",  # CBC with SHA-1
    "ECDHE-ECDSA-AES256-SHA384",  # CBC
    "AES128-GCM-SHA256",  # no forward secrecy
    "AES256-SHA",
    "NULL-SHA",
)


@pytest.fixture(scope="module")
def port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    with CollectorProcess(tmp_path_factory.mktemp("tls") / "data") as collector:
        yield collector.webhook_port


def client(version: ssl.TLSVersion | None = None, ciphers: str | None = None) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    if ciphers:
        # Security level 0 lets this client offer what a careless or old client would.
        context.set_ciphers(f"{ciphers}:@SECLEVEL=0")
    if version is not None:
        context.minimum_version = context.maximum_version = version
    return context


def handshake(port: int, context: ssl.SSLContext) -> ssl.SSLSocket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    return context.wrap_socket(sock, server_hostname="localhost")


def assert_refused_by_the_server(port: int, context: ssl.SSLContext) -> None:
    with pytest.raises((ssl.SSLError, ConnectionResetError)) as refused:
        handshake(port, context).close()
    assert getattr(refused.value, "reason", None) not in LOCAL_REFUSALS


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1:DeprecationWarning")
@pytest.mark.parametrize("version", ["TLSv1", "TLSv1_1"])
def test_tls_before_1_2_is_refused(port: int, version: str) -> None:
    assert_refused_by_the_server(port, client(ssl.TLSVersion[version], "ALL"))


@pytest.mark.parametrize("suite", WEAK_SUITES)
def test_weak_suites_are_refused(port: int, suite: str) -> None:
    assert_refused_by_the_server(port, client(ssl.TLSVersion.TLSv1_2, suite))


@pytest.mark.parametrize("version", ["TLSv1_2", "TLSv1_3"])
def test_modern_clients_get_a_forward_secret_aead_suite(port: int, version: str) -> None:
    with handshake(port, client(ssl.TLSVersion[version])) as tls:
        name, protocol, _ = tls.cipher()
    assert protocol == version.replace("_", ".")
    if version == "TLSv1_2":
        assert name.startswith("ECDHE-")
        assert "GCM" in name or "CHACHA20" in name

"""Serving certificates: the dev certificate on disk and live reload on a real TLS server."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import ssl
import stat
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from logistis.collector.trust.tls import (
    DEV_CERT_FILE,
    DEV_KEY_FILE,
    DEV_NAMES,
    DEV_VALIDITY,
    CertificateError,
    KeyPair,
    ReloadingTLS,
    certificate_names,
    ensure_dev_certificate,
    self_signed_certificate,
    utcnow,
    write_pair,
)


def der(pair: KeyPair) -> bytes:
    return pair.certificate.public_bytes(serialization.Encoding.DER)


def client_context(*trusted: KeyPair) -> ssl.SSLContext:
    context = ssl.create_default_context(cadata="".join(p.cert_pem.decode() for p in trusted))
    return context


async def _hello(_: web.Request) -> web.Response:
    return web.Response(text="hello")


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[ReloadingTLS, int, KeyPair]]:
    """A real aiohttp server on 127.0.0.1 serving the dev certificate through ReloadingTLS."""
    cert, key = ensure_dev_certificate(tmp_path)
    tls = ReloadingTLS(cert, key)
    app = web.Application()
    app.router.add_get("/", _hello)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=tls.context)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield tls, port, KeyPair(cert.read_bytes(), key.read_bytes())
    await runner.cleanup()


async def peer_certificate(port: int, context: ssl.SSLContext) -> bytes:
    _, writer = await asyncio.open_connection(
        "127.0.0.1", port, ssl=context, server_hostname="localhost"
    )
    try:
        peer = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
    finally:
        writer.close()
        await writer.wait_closed()
    return peer


def test_dev_certificate_is_created_private_and_reused(tmp_path: Path) -> None:
    cert, key = ensure_dev_certificate(tmp_path)
    assert (cert, key) == (tmp_path / DEV_CERT_FILE, tmp_path / DEV_KEY_FILE)
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    parsed = x509.load_pem_x509_certificate(cert.read_bytes())
    assert certificate_names(parsed) == set(DEV_NAMES)
    first = cert.read_bytes()
    ensure_dev_certificate(tmp_path)
    assert cert.read_bytes() == first


def test_dev_certificate_is_replaced_when_expiring(tmp_path: Path) -> None:
    cert, _ = ensure_dev_certificate(tmp_path)
    first = cert.read_bytes()
    ensure_dev_certificate(tmp_path, now=lambda: utcnow() + DEV_VALIDITY - dt.timedelta(days=10))
    assert cert.read_bytes() != first


def test_dev_certificate_is_replaced_when_the_key_does_not_match(tmp_path: Path) -> None:
    cert, key = ensure_dev_certificate(tmp_path)
    other = self_signed_certificate(DEV_NAMES, DEV_VALIDITY)
    key.write_bytes(other.key_pem)
    ensure_dev_certificate(tmp_path)
    pair = KeyPair(cert.read_bytes(), key.read_bytes())
    assert pair.certificate.public_key() == pair.private_key.public_key()


async def test_new_connections_get_the_replaced_certificate(
    served: tuple[ReloadingTLS, int, KeyPair],
) -> None:
    tls, port, first = served
    second = self_signed_certificate(DEV_NAMES, DEV_VALIDITY)
    trusting_both = client_context(first, second)
    assert await peer_certificate(port, trusting_both) == der(first)

    write_pair(second, tls.cert_path, tls.key_path)
    assert tls.reload() is True
    assert await peer_certificate(port, trusting_both) == der(second)
    async with aiohttp.ClientSession() as session:
        url = f"https://localhost:{port}/"
        async with session.get(url, ssl=client_context(second)) as response:
            assert await response.text() == "hello"
        with pytest.raises(aiohttp.ClientConnectorCertificateError):
            await session.get(url, ssl=client_context(first))


async def test_a_broken_pair_keeps_the_old_certificate_and_logs_once(
    served: tuple[ReloadingTLS, int, KeyPair], caplog: pytest.LogCaptureFixture
) -> None:
    tls, port, first = served
    stranger = self_signed_certificate(DEV_NAMES, DEV_VALIDITY)
    tls.cert_path.write_bytes(stranger.cert_pem)  # the key file still holds the old key
    with caplog.at_level(logging.ERROR, logger="logistis.collector.trust.tls"):
        assert tls.reload() is False
        assert tls.reload() is False
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1
    assert str(tls.cert_path) in errors[0].getMessage()
    assert await peer_certificate(port, client_context(first)) == der(first)

    tls.key_path.write_bytes(stranger.key_pem)
    assert tls.reload() is True
    assert await peer_certificate(port, client_context(stranger)) == der(stranger)


async def test_watch_follows_the_files(served: tuple[ReloadingTLS, int, KeyPair]) -> None:
    tls, port, first = served
    second = self_signed_certificate(DEV_NAMES, DEV_VALIDITY)
    watcher = asyncio.create_task(tls.watch(interval=0.02))
    try:
        write_pair(second, tls.cert_path, tls.key_path)
        trusting_both = client_context(first, second)
        for _ in range(100):
            if await peer_certificate(port, trusting_both) == der(second):
                break
            await asyncio.sleep(0.02)
        assert await peer_certificate(port, trusting_both) == der(second)
    finally:
        watcher.cancel()


async def test_tls12_gets_a_forward_secret_aead_suite(
    served: tuple[ReloadingTLS, int, KeyPair],
) -> None:
    _, port, first = served
    tls12 = client_context(first)
    tls12.maximum_version = ssl.TLSVersion.TLSv1_2
    _, writer = await asyncio.open_connection(
        "127.0.0.1", port, ssl=tls12, server_hostname="localhost"
    )
    name, version, _ = writer.get_extra_info("ssl_object").cipher()
    writer.close()
    await writer.wait_closed()
    assert version == "TLSv1.2"
    assert name.startswith("ECDHE-")
    assert "GCM" in name or "CHACHA20" in name


async def test_weak_suites_are_refused(served: tuple[ReloadingTLS, int, KeyPair]) -> None:
    _, port, first = served
    cbc_only = client_context(first)
    cbc_only.maximum_version = ssl.TLSVersion.TLSv1_2
    cbc_only.set_ciphers("ECDHE-ECDSA-AES128-SHA256")
    # Python's own server default accepts this CBC suite; ours must not.
    with pytest.raises((ssl.SSLError, ConnectionResetError)):
        await peer_certificate(port, cbc_only)


def test_a_bad_pair_at_start_is_one_clear_error(tmp_path: Path) -> None:
    first = self_signed_certificate(DEV_NAMES, DEV_VALIDITY)
    other = self_signed_certificate(DEV_NAMES, DEV_VALIDITY)
    cert, key = tmp_path / "tls.crt", tmp_path / "tls.key"
    cert.write_bytes(first.cert_pem)
    key.write_bytes(other.key_pem)
    with pytest.raises(CertificateError, match="cannot serve certificate"):
        ReloadingTLS(cert, key)


def test_missing_files_at_start_name_the_path(tmp_path: Path) -> None:
    with pytest.raises(CertificateError, match=r"tls\.crt.*No such file"):
        ReloadingTLS(tmp_path / "tls.crt", tmp_path / "tls.key")


async def test_vanished_files_keep_the_old_certificate(
    served: tuple[ReloadingTLS, int, KeyPair], caplog: pytest.LogCaptureFixture
) -> None:
    tls, port, first = served
    tls.cert_path.unlink()
    with caplog.at_level(logging.ERROR, logger="logistis.collector.trust.tls"):
        assert tls.reload() is False
        assert tls.reload() is False
    assert len(caplog.records) == 1
    assert "No such file" in caplog.records[0].getMessage()
    assert await peer_certificate(port, client_context(first)) == der(first)

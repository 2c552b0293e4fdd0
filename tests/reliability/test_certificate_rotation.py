"""Certificate files replaced while serving under load: new handshakes get the new certificate,
and no request fails on the way."""

from __future__ import annotations

import asyncio
import datetime as dt
import socket
import ssl
import time
from pathlib import Path

from logistis.collector.trust.tls import KeyPair, self_signed_certificate, write_pair
from tests.support.collector import CollectorProcess

from .load import Load

NAMES = ("localhost", "127.0.0.1")
VALIDITY = dt.timedelta(days=1)
# The collector looks at the files every 5 s.
RELOAD_WITHIN = 10.0


def trusting(*pairs: KeyPair) -> ssl.SSLContext:
    return ssl.create_default_context(cadata=b"".join(p.cert_pem for p in pairs).decode())


def served_certificate(port: int, tls: ssl.SSLContext) -> bytes:
    """The certificate a brand-new connection is given (DER)."""
    with (
        socket.create_connection(("127.0.0.1", port), timeout=5) as sock,
        tls.wrap_socket(sock, server_hostname="localhost") as connection,
    ):
        certificate = connection.getpeercert(binary_form=True)
    assert certificate is not None
    return certificate


def der(pair: KeyPair) -> bytes:
    return ssl.PEM_cert_to_DER_cert(pair.cert_pem.decode())


async def test_replaced_certificate_is_served_without_dropping_a_request(tmp_path: Path) -> None:
    old, new = (self_signed_certificate(NAMES, VALIDITY) for _ in range(2))
    cert, key = tmp_path / "tls.crt", tmp_path / "tls.key"
    write_pair(old, cert, key)
    collector = CollectorProcess(
        tmp_path / "data", "--tls-cert", str(cert), "--tls-key", str(key)
    ).start()
    both = trusting(old, new)
    try:
        assert served_certificate(collector.webhook_port, both) == der(old)
        # Every review on a new connection: the handshakes straddle the replacement.
        load = Load(collector, workers=4, tls=both, fresh_connections=True)
        running = asyncio.create_task(load.run())
        await asyncio.sleep(0.5)
        write_pair(new, cert, key)
        deadline = time.monotonic() + RELOAD_WITHIN
        while served_certificate(collector.webhook_port, both) != der(new):
            assert time.monotonic() < deadline, "the new certificate was never served"
            await asyncio.sleep(0.2)
        await asyncio.sleep(0.5)
        load.stop()
        await running
        assert load.errors == 0
        assert load.denied == 0
        assert set(load.answers) == {200}
        assert len(load.answers) > 20
        # Clients that trust only the new certificate now connect; the old one is gone.
        assert served_certificate(collector.webhook_port, trusting(new)) == der(new)
    finally:
        assert collector.stop() == 0

"""The apiserver's side of an aggregated API: a front-proxy CA, its client certificate, and
clients that call the collector's TLS port as the aggregator does (certificate plus
X-Remote-* headers)."""

from __future__ import annotations

import ssl
from collections.abc import Sequence
from pathlib import Path

import httpx
import trustme

from tests.support.collector import CollectorProcess

PROXY_CN = "front-proxy-client"


class FrontProxy:
    """A request-header CA of the test's own, written where the collector reads it."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.ca = trustme.CA()
        self.ca_file = directory / "front-proxy-ca.crt"
        self.ca.cert_pem.write_to_path(str(self.ca_file))
        self.certificate = self.ca.issue_cert(PROXY_CN, common_name=PROXY_CN)

    def collector_args(self, *allowed: str) -> tuple[str, ...]:
        names = allowed or (PROXY_CN,)
        flags = [f"--requestheader-allowed-name={n}" for n in names]
        return ("--requestheader-client-ca-file", str(self.ca_file), *flags)

    def context(
        self, collector: CollectorProcess, certificate: trustme.LeafCert | None = None
    ) -> ssl.SSLContext:
        return self.context_for(collector.ca_file, certificate)

    def context_for(
        self, server_ca: Path, certificate: trustme.LeafCert | None = None
    ) -> ssl.SSLContext:
        """A client context trusting `server_ca` and presenting the proxy's certificate."""
        context = ssl.create_default_context(cafile=str(server_ca))
        (certificate or self.certificate).configure_cert(context)
        return context

    def client(
        self,
        collector: CollectorProcess,
        user: str = "alice",
        groups: Sequence[str] = ("system:authenticated",),
        *,
        context: ssl.SSLContext | None = None,
        extra: Sequence[tuple[str, str]] = (),
    ) -> httpx.Client:
        """A client the collector takes for the aggregator proxying `user`'s requests."""
        headers = [("X-Remote-User", user), *(("X-Remote-Group", g) for g in groups), *extra]
        return httpx.Client(
            base_url=f"https://127.0.0.1:{collector.webhook_port}",
            verify=context or self.context(collector),
            headers=headers,
            timeout=10,
        )

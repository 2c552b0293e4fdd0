"""Work several collectors on one PostgreSQL database must not each do: the schema is migrated
and the self-managed certificate issued by one of them when they start at once, and a
retention pass runs in one collector at a time."""

from __future__ import annotations

import socket
import ssl
from datetime import timedelta
from pathlib import Path

import httpx
import orjson
from cryptography import x509

from logistis.collector.pipeline.retention import enforce_once
from logistis.collector.store import open_store
from logistis.collector.store.postgres_functions import RETENTION_LOCK
from logistis.collector.store.postgres_schema import MIGRATIONS
from logistis.collector.store.protocol import Retention
from logistis.collector.trust.certmanager import SERVICE_DNS_NAMES
from tests.collector.test_retention import stored_events
from tests.collector.test_stream import fresh
from tests.deploy.apiserver import serving
from tests.deploy.kustomize import HA, render
from tests.deploy.test_selfmanaged_tls import SECRET, ca_bundles, rendered_state, stored_data
from tests.support.collector import CollectorProcess
from tests.support.kube_apiserver import User, write_kubeconfig
from tests.support.postgres import PostgresServer
from tests.support.replicas import replicas
from tests.support.stores import advisory_locked, stored_uids, table_rows


def served_certificate(collector: CollectorProcess, ca: bytes) -> x509.Certificate:
    """What the apiserver sees calling the Service: a handshake for its name, verified."""
    context = ssl.create_default_context(cadata=ca.decode())
    with (
        socket.create_connection(("127.0.0.1", collector.webhook_port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname=SERVICE_DNS_NAMES[0]) as tls,
    ):
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    return x509.load_der_x509_certificate(der)


def review_through_the_service(collector: CollectorProcess, ca: bytes, token: str) -> str:
    """One review posted as the apiserver posts it: to the token's path, over TLS verified
    against the CA in the webhook configuration; returns its uid."""
    (review,) = fresh(1)
    uid = review["request"]["uid"]
    url = f"https://127.0.0.1:{collector.webhook_port}/validate/{token}"
    with httpx.Client(verify=ssl.create_default_context(cadata=ca.decode())) as client:
        answer = client.post(url, json=review, extensions={"sni_hostname": SERVICE_DNS_NAMES[0]})
    assert answer.status_code == 200
    assert answer.json()["response"]["allowed"] is True
    return uid


def logged_errors(collector: CollectorProcess) -> list[str]:
    """Lines that are not the JSON log (a traceback), and errors."""
    return [
        line
        for line in collector.log.read_text().splitlines()
        if not line.startswith("{") or orjson.loads(line)["level"] in ("error", "critical")
    ]


def test_two_collectors_started_at_once_on_an_empty_database_migrate_it_once_and_share_one_certificate(
    tmp_path: Path, postgres: PostgresServer
):
    url = postgres.create_database()
    # The HA overlay's Secret, webhook configuration and RBAC, as the apiserver holds them.
    state = rendered_state(render(HA))
    with serving(state) as apiserver:
        kubeconfig = write_kubeconfig(
            tmp_path / "kubeconfig", apiserver, User("collector", "service-account-token")
        )
        args = ("--tls-self-managed", "--kubeconfig", str(kubeconfig))
        with replicas(tmp_path, url, 2, *args) as collectors:
            stored = stored_data(state)
            served = [served_certificate(c, stored["ca.crt"]) for c in collectors]
            token = stored["webhook-token"].decode()
            posted = {review_through_the_service(c, stored["ca.crt"], token) for c in collectors}
    versions = table_rows(url, "SELECT version FROM logistis_schema ORDER BY version")
    assert versions == [(str(n),) for n in range(1, len(MIGRATIONS) + 1)]
    assert [logged_errors(c) for c in collectors] == [[], []]
    # One Secret, never created (the manifests' own), holding one CA that the webhook trusts.
    assert list(state.secrets) == [(SECRET.namespace, SECRET.name)]
    assert not any(method == "POST" for method, _ in state.writes())
    assert len(x509.load_pem_x509_certificates(stored["ca.crt"])) == 1
    assert ca_bundles(state) == [stored["ca.crt"]]
    assert served == [x509.load_pem_x509_certificate(stored["tls.crt"])] * 2
    assert posted <= stored_uids(url)


async def test_a_retention_pass_is_skipped_while_another_collector_runs_one(
    postgres: PostgresServer,
):
    url = postgres.create_database()
    month = Retention(max_age=timedelta(days=30))
    async with open_store(url, max_events_per_resource=1000) as store:
        await store.record(stored_events([40] * 20 + [1] * 5))
        with advisory_locked(url, RETENTION_LOCK):
            assert await enforce_once(store, month) == 0
            assert await store.count(10**9) == 25
        assert await enforce_once(store, month) == 20
        assert await store.count(10**9) == 5

"""Self-managed TLS through the real kubernetes client, against a stand-in apiserver.

The stand-in is seeded with the rendered manifests (the empty Secret, the webhook
configuration) and enforces the rendered RBAC, so these tests also prove that the
Role and ClusterRole grant exactly what the collector uses.
"""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import datetime as dt
import logging
import re
import ssl
import stat
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from aiohttp import web
from cryptography import x509
from cryptography.x509 import DNSName
from cryptography.x509.verification import PolicyBuilder, Store
from kubernetes import client

from logistis.collector.trust.callers import new_token
from logistis.collector.trust.certmanager import (
    CA_VALIDITY,
    SERVICE_DNS_NAMES,
    SERVING_VALIDITY,
    ClusterAPIError,
    KubernetesTLSApi,
    SecretRef,
    SelfManagedConfig,
    SelfManagedTLS,
    material_from_secret,
)
from logistis.collector.trust.defaults import (
    DEFAULT_RENEW_BEFORE,
    DEFAULT_SECRET,
    DEFAULT_WEBHOOK_CONFIGURATION,
)
from logistis.collector.trust.tls import ReloadingTLS, utcnow
from tests.deploy.apiserver import Grant, State, serving
from tests.deploy.kustomize import BASE, Manifest, find, render

SECRET = SecretRef.parse(DEFAULT_SECRET)
WEBHOOK_CA_ROLE = "logistis-collector-webhook-ca"
SECRET_PATH = f"/api/v1/namespaces/{SECRET.namespace}/secrets/{SECRET.name}"
WEBHOOK_PATH = (
    "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/"
    + DEFAULT_WEBHOOK_CONFIGURATION
)


def rendered_state(objects: list[Manifest] | None = None) -> State:
    """The stand-in seeded with the rendered objects (the base's unless given)."""
    objects = objects or render(BASE)
    secret = find(objects, "Secret", SECRET.name)
    secret["metadata"]["resourceVersion"] = "1"
    webhooks = find(objects, "ValidatingWebhookConfiguration", DEFAULT_WEBHOOK_CONFIGURATION)
    webhooks["metadata"]["resourceVersion"] = "1"
    role = find(objects, "Role", "logistis-collector-tls")
    grants = [Grant(rule, role["metadata"]["namespace"]) for rule in role["rules"]]
    grants += [Grant(rule, None) for rule in find(objects, "ClusterRole", WEBHOOK_CA_ROLE)["rules"]]
    return State(
        secrets={(SECRET.namespace, SECRET.name): secret},
        webhooks={DEFAULT_WEBHOOK_CONFIGURATION: webhooks},
        grants=grants,
    )


class Clock:
    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
def state() -> State:
    return rendered_state()


@pytest.fixture
def api(state: State) -> Iterator[KubernetesTLSApi]:
    with serving(state) as url:
        configuration = client.Configuration(host=url, retries=0)
        yield KubernetesTLSApi(client.ApiClient(configuration))


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def manager(api: KubernetesTLSApi, tmp_path: Path, clock: Clock) -> SelfManagedTLS:
    settings = SelfManagedConfig(SECRET, DEFAULT_WEBHOOK_CONFIGURATION, tmp_path / "tls")
    return SelfManagedTLS(api, settings, now=clock)


def stored_data(state: State) -> dict[str, bytes]:
    data = state.secrets[(SECRET.namespace, SECRET.name)].get("data", {})
    return {key: base64.b64decode(value) for key, value in data.items()}


def ca_bundles(state: State) -> list[bytes]:
    hooks = state.webhooks[DEFAULT_WEBHOOK_CONFIGURATION]["webhooks"]
    return [base64.b64decode(hook["clientConfig"].get("caBundle", "")) for hook in hooks]


def service_paths(state: State) -> list[str]:
    hooks = state.webhooks[DEFAULT_WEBHOOK_CONFIGURATION]["webhooks"]
    return [hook["clientConfig"]["service"]["path"] for hook in hooks]


async def until(condition: Callable[[], bool], seconds: float = 5.0) -> None:
    for _ in range(int(seconds / 0.01)):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"not true within {seconds}s")


async def served_certificate(tls: ReloadingTLS, ca_bundle: bytes | None) -> x509.Certificate:
    """What the apiserver would see: a TLS handshake, verified against `ca_bundle` if given."""
    app = web.Application()
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=tls.context)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    if ca_bundle is None:
        trusting = ssl._create_unverified_context()
    else:
        trusting = ssl.create_default_context(cadata=ca_bundle.decode())
    try:
        _, writer = await asyncio.open_connection(
            "127.0.0.1", port, ssl=trusting, server_hostname=SERVICE_DNS_NAMES[0]
        )
        der = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
        writer.close()
        await writer.wait_closed()
    finally:
        await runner.cleanup()
    return x509.load_der_x509_certificate(der)


async def test_first_start_fills_the_secret_and_the_ca_bundle(
    manager: SelfManagedTLS, state: State
) -> None:
    cert_path, key_path, token = await manager.start()

    data = stored_data(state)
    assert set(data) == {"ca.crt", "ca.key", "tls.crt", "tls.key", "webhook-token"}
    assert ca_bundles(state) == [data["ca.crt"]]
    # The token, kept in the Secret, is in the path the apiserver calls: only it knows it.
    assert data["webhook-token"].decode() == token
    assert len(token) >= 40
    assert service_paths(state) == [f"/validate/{token}"]
    assert cert_path.read_bytes() == data["tls.crt"]
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    assert state.writes() == [("PATCH", SECRET_PATH), ("PATCH", WEBHOOK_PATH)]

    served = await served_certificate(ReloadingTLS(cert_path, key_path), data["ca.crt"])
    names = served.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert set(names.get_values_for_type(x509.DNSName)) == set(SERVICE_DNS_NAMES)


def test_the_secret_keeps_its_labels_and_annotations(manager: SelfManagedTLS, state: State) -> None:
    labels = state.secrets[(SECRET.namespace, SECRET.name)]["metadata"]["labels"]
    manager.reconcile()
    assert state.secrets[(SECRET.namespace, SECRET.name)]["metadata"]["labels"] == labels


def test_a_restart_reuses_the_stored_certificate(
    manager: SelfManagedTLS, state: State, tmp_path: Path
) -> None:
    manager.reconcile()
    first = stored_data(state)
    state.requests.clear()
    (tmp_path / "tls").joinpath("tls.crt").unlink()  # a new pod: an empty data dir

    manager.reconcile()

    assert state.writes() == []
    assert stored_data(state) == first
    assert (tmp_path / "tls" / "tls.crt").read_bytes() == first["tls.crt"]


def test_a_secret_from_before_the_token_gets_one_and_keeps_its_certificates(
    manager: SelfManagedTLS, state: State
) -> None:
    manager.reconcile()
    secret = state.secrets[(SECRET.namespace, SECRET.name)]
    del secret["data"]["webhook-token"]
    before = stored_data(state)

    token = manager.reconcile()

    after = stored_data(state)
    assert after.pop("webhook-token").decode() == token
    assert after == before
    assert service_paths(state) == [f"/validate/{token}"]


def test_a_stored_token_the_apiserver_refuses_in_a_path_is_replaced(
    manager: SelfManagedTLS, state: State
) -> None:
    # What secrets.token_urlsafe gave before: uppercase and '_' make the path invalid.
    manager.reconcile()
    secret = state.secrets[(SECRET.namespace, SECRET.name)]
    secret["data"]["webhook-token"] = base64.b64encode(b"d7s6GAq2A_B4Ms0-xk1pQ9zZ8wVbNcYt").decode()
    before = stored_data(state)

    token = manager.reconcile()

    after = stored_data(state)
    assert after.pop("webhook-token").decode() == token
    assert before.pop("webhook-token") != token.encode()
    assert after == before
    assert service_paths(state) == [f"/validate/{token}"]


def test_tokens_are_lowercase_letters_and_digits_with_256_random_bits() -> None:
    tokens = {new_token() for _ in range(200)}
    assert len(tokens) == 200
    assert all(re.fullmatch(r"[a-z0-9]{52}", token) for token in tokens)


def test_a_reset_webhook_path_is_patched_again(manager: SelfManagedTLS, state: State) -> None:
    token = manager.reconcile()
    hook = state.webhooks[DEFAULT_WEBHOOK_CONFIGURATION]["webhooks"][0]
    hook["clientConfig"]["service"]["path"] = "/validate"  # the manifests applied again
    state.requests.clear()

    assert manager.reconcile() == token

    assert state.writes() == [("PATCH", WEBHOOK_PATH)]
    assert service_paths(state) == [f"/validate/{token}"]


def test_a_reset_ca_bundle_is_patched_again(manager: SelfManagedTLS, state: State) -> None:
    manager.reconcile()
    hook = state.webhooks[DEFAULT_WEBHOOK_CONFIGURATION]["webhooks"][0]
    del hook["clientConfig"]["caBundle"]  # someone deleted and re-applied the configuration
    state.requests.clear()

    manager.reconcile()

    assert state.writes() == [("PATCH", WEBHOOK_PATH)]
    assert ca_bundles(state) == [stored_data(state)["ca.crt"]]


async def test_renewal_reissues_from_the_same_ca_and_the_server_follows(
    manager: SelfManagedTLS, state: State, clock: Clock
) -> None:
    cert_path, key_path, _ = await manager.start()
    tls = ReloadingTLS(cert_path, key_path)
    before = stored_data(state)
    state.requests.clear()

    clock.now += SERVING_VALIDITY - DEFAULT_RENEW_BEFORE + dt.timedelta(days=1)
    manager.reconcile()

    after = stored_data(state)
    assert after["tls.crt"] != before["tls.crt"]
    assert (after["ca.crt"], after["ca.key"]) == (before["ca.crt"], before["ca.key"])
    assert state.writes() == [("PATCH", SECRET_PATH)]  # the caBundle stays as it was
    assert tls.reload() is True
    # The clock is a year ahead, beyond what a live handshake can verify: check the chain
    # at that time, and that the live handshake serves it.
    served = await served_certificate(tls, None)
    assert served == x509.load_pem_x509_certificate(after["tls.crt"])
    verifier = (
        PolicyBuilder()
        .store(Store(x509.load_pem_x509_certificates(after["ca.crt"])))
        .time(clock.now)
        .build_server_verifier(DNSName(SERVICE_DNS_NAMES[0]))
    )
    verifier.verify(served, [])


def test_a_new_ca_is_trusted_next_to_the_old_one(
    manager: SelfManagedTLS, state: State, clock: Clock
) -> None:
    manager.reconcile()
    old_ca = x509.load_pem_x509_certificate(stored_data(state)["ca.crt"])

    clock.now += CA_VALIDITY - DEFAULT_RENEW_BEFORE
    manager.reconcile()

    bundle = x509.load_pem_x509_certificates(stored_data(state)["ca.crt"])
    assert len(bundle) == 2
    assert bundle[1] == old_ca
    assert bundle[0] != old_ca
    assert ca_bundles(state) == [stored_data(state)["ca.crt"]]
    serving = x509.load_pem_x509_certificate(stored_data(state)["tls.crt"])
    serving.verify_directly_issued_by(bundle[0])


def test_unusable_secret_content_is_replaced(manager: SelfManagedTLS, state: State) -> None:
    state.secrets[(SECRET.namespace, SECRET.name)]["data"] = {
        "ca.crt": base64.b64encode(b"not a certificate").decode(),
        "ca.key": "",
        "tls.crt": "",
        "tls.key": "",
    }
    manager.reconcile()
    assert material_from_secret(stored_data(state)) is not None


def test_new_dns_names_get_a_new_certificate(
    api: KubernetesTLSApi, manager: SelfManagedTLS, state: State, tmp_path: Path
) -> None:
    manager.reconcile()
    names = (*SERVICE_DNS_NAMES, "logistis.example.com")
    settings = SelfManagedConfig(SECRET, DEFAULT_WEBHOOK_CONFIGURATION, tmp_path / "tls", names)
    SelfManagedTLS(api, settings).reconcile()
    serving = x509.load_pem_x509_certificate(stored_data(state)["tls.crt"])
    san = serving.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "logistis.example.com" in san.get_values_for_type(x509.DNSName)


def test_a_concurrent_writer_wins_and_its_certificate_is_served(
    api: KubernetesTLSApi, manager: SelfManagedTLS, state: State, tmp_path: Path
) -> None:
    # Another collector (a rollout overlap) stores its certificate between our read and write.
    other = rendered_state()
    other.grants = None
    with serving(other) as url:
        other_api = KubernetesTLSApi(client.ApiClient(client.Configuration(host=url, retries=0)))
        settings = SelfManagedConfig(SECRET, DEFAULT_WEBHOOK_CONFIGURATION, tmp_path / "other")
        SelfManagedTLS(other_api, settings).reconcile()
    theirs = other.secrets[(SECRET.namespace, SECRET.name)]["data"]
    state.before_next_patch = theirs

    manager.reconcile()

    assert stored_data(state) == {k: base64.b64decode(v) for k, v in theirs.items()}
    assert manager.cert_path.read_bytes() == base64.b64decode(theirs["tls.crt"])
    assert ca_bundles(state) == [base64.b64decode(theirs["ca.crt"])]


def test_a_missing_secret_cannot_be_created_with_the_rendered_rbac(
    manager: SelfManagedTLS, state: State
) -> None:
    del state.secrets[(SECRET.namespace, SECRET.name)]
    with pytest.raises(ClusterAPIError, match=f"cannot create Secret {SECRET}: 403") as raised:
        manager.reconcile()
    assert "\n" not in str(raised.value)


def test_a_missing_secret_is_created_where_allowed(manager: SelfManagedTLS, state: State) -> None:
    del state.secrets[(SECRET.namespace, SECRET.name)]
    state.grants = None
    manager.reconcile()
    assert ("POST", f"/api/v1/namespaces/{SECRET.namespace}/secrets") in state.writes()
    assert material_from_secret(stored_data(state)) is not None


def test_a_missing_webhook_configuration_is_a_clear_error(
    manager: SelfManagedTLS, state: State
) -> None:
    state.webhooks.clear()
    expected = f"cannot read ValidatingWebhookConfiguration {DEFAULT_WEBHOOK_CONFIGURATION}: 404"
    with pytest.raises(ClusterAPIError, match=expected):
        manager.reconcile()


def test_a_refused_patch_says_what_the_apiserver_refused(
    manager: SelfManagedTLS, state: State
) -> None:
    hook = state.webhooks[DEFAULT_WEBHOOK_CONFIGURATION]["webhooks"][0]
    hook["clientConfig"] = {"url": "http://collector.example:8443/validate"}
    with pytest.raises(ClusterAPIError) as refused:
        manager.reconcile()
    assert str(refused.value).startswith(
        f"cannot patch ValidatingWebhookConfiguration {DEFAULT_WEBHOOK_CONFIGURATION}: 422 "
    )
    assert "webhooks[0].clientConfig.url" in str(refused.value)
    assert "'https' is the only allowed URL scheme" in str(refused.value)


async def test_renewal_survives_an_unavailable_apiserver(
    manager: SelfManagedTLS, state: State, caplog: pytest.LogCaptureFixture
) -> None:
    await manager.start()
    hook = state.webhooks[DEFAULT_WEBHOOK_CONFIGURATION]["webhooks"][0]
    del hook["clientConfig"]["caBundle"]
    state.failing = True
    tokens: list[str] = []
    renewing = asyncio.create_task(manager.renew_forever(tokens.append, interval=0.01))
    try:
        with caplog.at_level(logging.WARNING, logger="logistis.collector.trust.certmanager"):
            await until(lambda: bool(caplog.records))
        assert "not renewed" in caplog.records[0].getMessage()
        assert "500" in caplog.records[0].getMessage()
        state.failing = False
        await until(lambda: bool(ca_bundles(state)[0]) and bool(tokens))
    finally:
        renewing.cancel()
    assert ca_bundles(state) == [stored_data(state)["ca.crt"]]
    assert set(tokens) == {stored_data(state)["webhook-token"].decode()}


@pytest.mark.parametrize("text", ["logistis", "/name", "ns/", "a/b/c", ""])
def test_a_bad_secret_reference_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="NAMESPACE/NAME"):
        SecretRef.parse(text)


def test_collectors_starting_at_once_adopt_one_certificate(
    api: KubernetesTLSApi, state: State, tmp_path: Path
) -> None:
    """Replicas of a Deployment reconcile together against one apiserver: the Secret's
    resourceVersion lets one write, the others adopt what it wrote."""
    settings = [
        SelfManagedConfig(SECRET, DEFAULT_WEBHOOK_CONFIGURATION, tmp_path / f"replica-{n}")
        for n in range(4)
    ]
    managers = [SelfManagedTLS(api, s) for s in settings]
    together = threading.Barrier(len(managers))

    def start(manager: SelfManagedTLS) -> str:
        together.wait()
        return manager.reconcile()

    with concurrent.futures.ThreadPoolExecutor(len(managers)) as pool:
        tokens = list(pool.map(start, managers))

    stored = stored_data(state)
    assert tokens == [stored["webhook-token"].decode()] * len(managers)
    assert ca_bundles(state) == [stored["ca.crt"]]
    assert {m.cert_path.read_bytes() for m in managers} == {stored["tls.crt"]}

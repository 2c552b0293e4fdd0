"""Self-managed webhook TLS: a CA and a serving certificate kept in one Secret.

On start and then periodically, `SelfManagedTLS.reconcile` makes sure that:

1. the Secret holds a CA and a serving certificate for the Service's DNS names that is
   not yet due for renewal (otherwise it issues new ones and stores them);
2. every webhook of the ValidatingWebhookConfiguration trusts that CA (`caBundle`) and calls
   the path that carries the webhook's secret token (`/validate/<token>`, the token kept in
   the same Secret), so that only the apiserver, which reads it there, can write history;
   the APIService trusts the same CA when the Kubernetes API is served;
3. the serving pair is on disk, where `collector.tls.ReloadingTLS` picks it up.

The order matters: the apiserver must trust a new CA before the collector serves a
certificate signed by it, and when the CA itself is replaced the bundle keeps the
previous CA until it expires, so no admission call fails during the switch.

Kubernetes is reached only through `TLSApi`, the handful of calls this needs; the
real implementation wraps the official client.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization

from logistis.collector.errors import CollectorError
from logistis.collector.trust.callers import new_token, token_path, usable_token
from logistis.collector.trust.cluster import ClusterAccessError, api_client
from logistis.collector.trust.defaults import DEFAULT_RENEW_BEFORE
from logistis.collector.trust.tls import (
    Clock,
    KeyPair,
    certificate_usable,
    generate_ca,
    issue_serving_certificate,
    pair_matches,
    read_pair,
    utcnow,
    write_pair,
)

if TYPE_CHECKING:
    from kubernetes import client

log = logging.getLogger(__name__)
T = TypeVar("T")

SERVICE_DNS_NAMES = (
    "logistis-collector.logistis.svc",
    "logistis-collector.logistis.svc.cluster.local",
    "logistis-collector.logistis",
    "logistis-collector",
)
DEFAULT_CHECK_INTERVAL = 3600.0
CA_VALIDITY = dt.timedelta(days=3650)
SERVING_VALIDITY = dt.timedelta(days=365)
CA_COMMON_NAME = "logistis-collector-ca"

CA_CERT, CA_KEY, TLS_CERT, TLS_KEY = "ca.crt", "ca.key", "tls.crt", "tls.key"
WEBHOOK_TOKEN = "webhook-token"


class SelfManagedTLSError(CollectorError):
    """Self-managed TLS cannot proceed; the message says what and where."""


class ClusterAPIError(SelfManagedTLSError):
    """A call to the Kubernetes API failed."""

    def __init__(self, action: str, status: int | None, reason: str) -> None:
        super().__init__(f"cannot {action}: {status or 'no answer'} {reason}".rstrip())
        self.status = status


class NotFound(ClusterAPIError):
    """The object does not exist."""


class Conflict(ClusterAPIError):
    """Somebody else wrote the object since we read it."""


@dataclass(frozen=True)
class SecretRef:
    namespace: str
    name: str

    @classmethod
    def parse(cls, text: str) -> SecretRef:
        namespace, _, name = text.partition("/")
        if not namespace or not name or "/" in name:
            raise ValueError(f"--tls-secret must be NAMESPACE/NAME, got {text!r}")
        return cls(namespace, name)

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True)
class StoredSecret:
    data: dict[str, bytes]
    resource_version: str


@dataclass(frozen=True)
class Webhook:
    name: str
    ca_bundle: bytes
    path: str | None = None
    """The service path it calls; None for a webhook that calls a `url`."""
    url: str | None = None


class TLSApi(Protocol):
    """The Kubernetes calls self-managed TLS makes, and nothing else."""

    def read_secret(self, ref: SecretRef) -> StoredSecret | None: ...

    def create_secret(self, ref: SecretRef, data: dict[str, bytes]) -> None: ...

    def update_secret(self, ref: SecretRef, data: dict[str, bytes], resource_version: str) -> None:
        """Replace the data keys, failing with Conflict if the Secret changed since read."""

    def read_webhooks(self, configuration: str) -> list[Webhook]: ...

    def patch_client_config(
        self, configuration: str, webhooks: list[Webhook], ca_bundle: bytes, path: str
    ) -> None:
        """Set the caBundle and the path of the webhooks, in the order `read_webhooks` listed
        them."""

    def read_apiservice_ca(self, name: str) -> bytes: ...

    def patch_apiservice_ca(self, name: str, ca_bundle: bytes) -> None: ...


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


class KubernetesTLSApi:
    """`TLSApi` through the official client; errors become `ClusterAPIError`s."""

    def __init__(self, api_client: client.ApiClient) -> None:
        # The official client is imported only here, in a pod: it costs a third of a second at
        # every start of a collector that never talks to the apiserver.
        from kubernetes import client

        self._core = client.CoreV1Api(api_client)
        self._admission = client.AdmissionregistrationV1Api(api_client)
        self._registration = client.ApiregistrationV1Api(api_client)

    @classmethod
    def connect(cls, kubeconfig: Path | None) -> KubernetesTLSApi:
        """With the pod's service account, or the kubeconfig's context when given."""
        try:
            return cls(api_client(kubeconfig))
        except ClusterAccessError as error:
            raise SelfManagedTLSError(
                f"self-managed TLS runs only in a pod or with --kubeconfig: {error}"
            ) from error

    def read_secret(self, ref: SecretRef) -> StoredSecret | None:
        try:
            secret = _call(
                f"read Secret {ref}",
                lambda: self._core.read_namespaced_secret(ref.name, ref.namespace),
            )
        except NotFound:
            return None
        data = {key: base64.b64decode(value) for key, value in (secret.data or {}).items()}
        version = secret.metadata.resource_version if secret.metadata else None
        if version is None:
            raise ClusterAPIError(f"read Secret {ref}", None, "no resourceVersion in the answer")
        return StoredSecret(data, version)

    def create_secret(self, ref: SecretRef, data: dict[str, bytes]) -> None:
        body = {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": ref.name, "namespace": ref.namespace},
            "type": "Opaque",
            "data": {key: _b64(value) for key, value in data.items()},
        }
        _call(
            f"create Secret {ref}",
            lambda: self._core.create_namespaced_secret(ref.namespace, body),  # type: ignore[arg-type]
        )

    def update_secret(self, ref: SecretRef, data: dict[str, bytes], resource_version: str) -> None:
        # A merge patch keeps the Secret's labels and annotations (kubectl apply's among them);
        # the resourceVersion in it makes the write conditional.
        body = {
            "metadata": {"resourceVersion": resource_version},
            "data": {key: _b64(value) for key, value in data.items()},
        }
        _call(
            f"update Secret {ref}",
            lambda: self._core.patch_namespaced_secret(
                ref.name, ref.namespace, body, _content_type="application/merge-patch+json"
            ),
        )

    def read_webhooks(self, configuration: str) -> list[Webhook]:
        found = _call(
            f"read ValidatingWebhookConfiguration {configuration}",
            lambda: self._admission.read_validating_webhook_configuration(configuration),
        )
        return [_webhook(hook) for hook in found.webhooks or []]

    def patch_client_config(
        self, configuration: str, webhooks: list[Webhook], ca_bundle: bytes, path: str
    ) -> None:
        # The test operations make the patch fail rather than touch a reordered list.
        patch: list[dict[str, Any]] = []
        for index, hook in enumerate(webhooks):
            at = f"/webhooks/{index}/clientConfig"
            patch.append({"op": "test", "path": f"/webhooks/{index}/name", "value": hook.name})
            patch.append({"op": "add", "path": f"{at}/caBundle", "value": _b64(ca_bundle)})
            if hook.url is not None:
                url = urlsplit(hook.url)._replace(path=path).geturl()
                patch.append({"op": "replace", "path": f"{at}/url", "value": url})
            else:
                patch.append({"op": "add", "path": f"{at}/service/path", "value": path})
        _call(
            f"patch ValidatingWebhookConfiguration {configuration}",
            lambda: self._admission.patch_validating_webhook_configuration(
                configuration, patch, _content_type="application/json-patch+json"
            ),
        )

    def read_apiservice_ca(self, name: str) -> bytes:
        found = _call(f"read APIService {name}", lambda: self._registration.read_api_service(name))
        return base64.b64decode((found.spec.ca_bundle if found.spec else None) or "")

    def patch_apiservice_ca(self, name: str, ca_bundle: bytes) -> None:
        body = {"spec": {"caBundle": _b64(ca_bundle)}}
        _call(
            f"patch APIService {name}",
            lambda: self._registration.patch_api_service(
                name, body, _content_type="application/merge-patch+json"
            ),
        )


def _webhook(hook: Any) -> Webhook:
    config = hook.client_config
    return Webhook(
        hook.name,
        base64.b64decode(config.ca_bundle or ""),
        path=config.service.path if config.service is not None else None,
        url=config.url,
    )


def _call(action: str, request: Callable[[], T]) -> T:
    """Run one API request; the client's exceptions become ClusterAPIErrors naming `action`."""
    from kubernetes.client.exceptions import ApiException
    from urllib3.exceptions import HTTPError

    try:
        return request()
    except ApiException as error:
        error_class = {404: NotFound, 409: Conflict}.get(error.status or 0, ClusterAPIError)
        raise error_class(action, error.status, _reason(error)) from error
    except HTTPError as error:
        raise ClusterAPIError(action, None, str(error)) from error


def _reason(error: Any) -> str:
    """The apiserver's own message when the answer is a Status: a 422 alone does not say
    which field it refused."""
    try:
        message = json.loads(error.body or "")["message"]
    except (ValueError, TypeError, KeyError):
        message = None
    return str(message or error.reason or "")


@dataclass(frozen=True)
class SelfManagedConfig:
    """Where the certificates live and who must trust them."""

    secret: SecretRef
    webhook_configuration: str
    cert_dir: Path
    dns_names: tuple[str, ...] = SERVICE_DNS_NAMES
    renew_before: dt.timedelta = DEFAULT_RENEW_BEFORE
    apiservice: str | None = None
    """The APIService of the Kubernetes API, when served: it trusts the same CA."""


@dataclass(frozen=True)
class Material:
    """What the Secret holds: the CA (its certificate first in `bundle`) and the serving pair."""

    ca: KeyPair
    serving: KeyPair
    bundle: bytes
    token: str = ""
    """The webhook's path token; empty in a Secret written before there was one."""

    def as_secret_data(self) -> dict[str, bytes]:
        return {
            CA_CERT: self.bundle,
            CA_KEY: self.ca.key_pem,
            TLS_CERT: self.serving.cert_pem,
            TLS_KEY: self.serving.key_pem,
            WEBHOOK_TOKEN: self.token.encode(),
        }


def material_from_secret(data: dict[str, bytes]) -> Material | None:
    """The CA and serving pair in the Secret, if present, parseable and consistent."""
    if not {CA_CERT, CA_KEY, TLS_CERT, TLS_KEY} <= data.keys():
        return None
    try:
        ca = KeyPair(data[CA_CERT], data[CA_KEY])
        serving = KeyPair(data[TLS_CERT], data[TLS_KEY])
        if not (pair_matches(ca) and pair_matches(serving)):
            return None
        serving.certificate.verify_directly_issued_by(ca.certificate)
        token = data.get(WEBHOOK_TOKEN, b"").decode("ascii")
    except (ValueError, TypeError, InvalidSignature):
        return None
    return Material(ca, serving, data[CA_CERT], token)


class SelfManagedTLS:
    """Keeps the Secret, the webhook's caBundle and the served files in agreement."""

    def __init__(self, api: TLSApi, settings: SelfManagedConfig, now: Clock = utcnow) -> None:
        self.api = api
        self.settings = settings
        self.now = now
        self.cert_path = settings.cert_dir / TLS_CERT
        self.key_path = settings.cert_dir / TLS_KEY

    def reconcile(self) -> str:
        """Returns the webhook's path token."""
        material = self._stored_material()
        self._trust(material.bundle, token_path(material.token))
        self._serve(material.serving)
        return material.token

    async def start(self) -> tuple[Path, Path, str]:
        """Reconcile once (errors propagate: the collector cannot serve without it); returns
        the files to serve and the webhook's path token."""
        token = await asyncio.to_thread(self.reconcile)
        return self.cert_path, self.key_path, token

    async def renew_forever(
        self, on_token: Callable[[str], None], interval: float = DEFAULT_CHECK_INTERVAL
    ) -> None:
        """Reconcile every `interval` seconds; a failure is logged and retried next time. The
        token is handed to `on_token` each time (a Secret deleted and made anew has another)."""
        while True:
            await asyncio.sleep(interval)
            try:
                on_token(await asyncio.to_thread(self.reconcile))
            except (SelfManagedTLSError, OSError) as error:
                log.warning("self-managed TLS not renewed, retrying in %.0fs: %s", interval, error)

    def _stored_material(self) -> Material:
        ref = self.settings.secret
        stored = self.api.read_secret(ref)
        current = material_from_secret(stored.data) if stored else None
        if current and self._serving_usable(current) and usable_token(current.token):
            return current
        if current and self._serving_usable(current):
            # Written before the token, or a token the apiserver refuses in a path (one made by
            # an earlier version): a new one, the certificates kept.
            fresh = replace(current, token=new_token())
        else:
            fresh = self._issue(current)
        try:
            if stored is None:
                self.api.create_secret(ref, fresh.as_secret_data())
            else:
                self.api.update_secret(ref, fresh.as_secret_data(), stored.resource_version)
        except Conflict:
            # Another collector (a rollout's overlap) stored its own first: use that one.
            stored = self.api.read_secret(ref)
            theirs = material_from_secret(stored.data) if stored else None
            if theirs and self._serving_usable(theirs) and usable_token(theirs.token):
                return theirs
            raise
        log.info(
            "stored a new serving certificate for %s in Secret %s, valid until %s",
            ", ".join(self.settings.dns_names),
            ref,
            fresh.serving.certificate.not_valid_after_utc.isoformat(),
        )
        return fresh

    def _serving_usable(self, material: Material) -> bool:
        return certificate_usable(
            material.serving.certificate,
            self.settings.dns_names,
            self.settings.renew_before,
            self.now(),
        )

    def _ca_usable(self, ca: KeyPair) -> bool:
        # A CA close to its end would cap every serving certificate it signs: replace it early.
        return certificate_usable(ca.certificate, (), 2 * self.settings.renew_before, self.now())

    def _issue(self, current: Material | None) -> Material:
        now = self.now()
        if current and self._ca_usable(current.ca):
            ca, bundle = current.ca, current.bundle
        else:
            ca = generate_ca(CA_COMMON_NAME, CA_VALIDITY, now)
            previous = current.ca.certificate if current else None
            bundle = ca.cert_pem + _still_valid_pem(previous, now)
        serving = issue_serving_certificate(ca, self.settings.dns_names, SERVING_VALIDITY, now)
        token = current.token if current and usable_token(current.token) else new_token()
        return Material(ca, serving, bundle, token)

    def _trust(self, bundle: bytes, path: str) -> None:
        name = self.settings.webhook_configuration
        webhooks = self.api.read_webhooks(name)
        if not webhooks:
            raise SelfManagedTLSError(f"ValidatingWebhookConfiguration {name} has no webhooks")
        if not all(hook.ca_bundle == bundle and _calls(hook, path) for hook in webhooks):
            self.api.patch_client_config(name, webhooks, bundle, path)
            # The path holds the token: it is never logged.
            log.info("set the caBundle and path of ValidatingWebhookConfiguration %s", name)
        apiservice = self.settings.apiservice
        if apiservice and self.api.read_apiservice_ca(apiservice) != bundle:
            self.api.patch_apiservice_ca(apiservice, bundle)
            log.info("set the caBundle of APIService %s", apiservice)

    def _serve(self, serving: KeyPair) -> None:
        if read_pair(self.cert_path, self.key_path) != serving:
            write_pair(serving, self.cert_path, self.key_path)


def _calls(hook: Webhook, path: str) -> bool:
    if hook.url is not None:
        return urlsplit(hook.url).path == path
    return hook.path == path


def _still_valid_pem(cert: x509.Certificate | None, now: dt.datetime) -> bytes:
    if cert is None or cert.not_valid_after_utc <= now:
        return b""
    return cert.public_bytes(serialization.Encoding.PEM)

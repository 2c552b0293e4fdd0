"""Request-header authentication: who the kube-apiserver says is asking.

The apiserver's aggregator proxies a request to an extension API server only after it has
authenticated the user and authorized the verb. It then presents its front-proxy client
certificate and names the user in headers (`X-Remote-User`, `X-Remote-Group`,
`X-Remote-Extra-<key>`). Those headers are believed only on a connection whose client
certificate was signed by the request-header CA and whose common name is one of the allowed
names; that CA, the allowed names and the header names are what the apiserver publishes in
ConfigMap kube-system/extension-apiserver-authentication.

This module knows nothing of what is served: `authenticate` is a pure function from the
peer certificate and the headers to a `RemoteUser`, and `RequestHeaderAuth` keeps the current
configuration, following the ConfigMap (or a file) as it changes.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import logging
import ssl
import urllib.parse
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import orjson
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.x509.oid import NameOID
from multidict import CIMultiDictProxy, MultiDictProxy

from logistis.collector.errors import CollectorError
from logistis.collector.trust.cluster import ClusterAccessError, api_client

log = logging.getLogger(__name__)

CONFIGMAP_NAMESPACE = "kube-system"
CONFIGMAP_NAME = "extension-apiserver-authentication"
DEFAULT_INTERVAL = 30.0

Headers = CIMultiDictProxy[str] | MultiDictProxy[str] | Mapping[str, str]


class ConfigurationError(CollectorError):
    """The request-header configuration cannot be read or makes no sense."""


class Unauthenticated(CollectorError):
    """The caller is not the apiserver's front proxy; the message says why."""


@dataclass(frozen=True, slots=True)
class RemoteUser:
    name: str
    groups: tuple[str, ...] = ()
    extra: tuple[tuple[str, tuple[str, ...]], ...] = ()


@dataclass(frozen=True, slots=True)
class RequestHeaderConfig:
    """What the apiserver publishes for extension API servers (the `requestheader-*` keys)."""

    ca_pem: bytes
    allowed_names: tuple[str, ...] = ()
    """Common names a front-proxy certificate may carry; empty: any name the CA signed."""
    username_headers: tuple[str, ...] = ("X-Remote-User",)
    group_headers: tuple[str, ...] = ("X-Remote-Group",)
    extra_prefixes: tuple[str, ...] = ("X-Remote-Extra-",)

    @property
    def authorities(self) -> tuple[x509.Certificate, ...]:
        return tuple(x509.load_pem_x509_certificates(self.ca_pem))

    @property
    def digest(self) -> str:
        return hashlib.sha256(orjson.dumps(self, default=_as_text)).hexdigest()


def _as_text(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode("ascii", "replace")
    raise TypeError(type(value).__name__)


def config_from_configmap(data: Mapping[str, str]) -> RequestHeaderConfig:
    """The configuration in ConfigMap kube-system/extension-apiserver-authentication."""
    ca = data.get("requestheader-client-ca-file", "")
    if not ca.strip():
        raise ConfigurationError(
            f"ConfigMap {CONFIGMAP_NAMESPACE}/{CONFIGMAP_NAME} has no requestheader-client-ca-file:"
            " the apiserver runs without --requestheader-client-ca-file"
        )
    return _checked(
        RequestHeaderConfig(
            ca_pem=ca.encode(),
            allowed_names=_json_list(data, "requestheader-allowed-names"),
            username_headers=_json_list(data, "requestheader-username-headers")
            or ("X-Remote-User",),
            group_headers=_json_list(data, "requestheader-group-headers") or ("X-Remote-Group",),
            extra_prefixes=_json_list(data, "requestheader-extra-headers-prefix")
            or ("X-Remote-Extra-",),
        )
    )


def config_from_file(path: Path, allowed_names: tuple[str, ...]) -> RequestHeaderConfig:
    try:
        pem = path.read_bytes()
    except OSError as error:
        raise ConfigurationError(f"request-header CA {path}: {error.strerror}") from None
    return _checked(RequestHeaderConfig(ca_pem=pem, allowed_names=allowed_names), str(path))


def _checked(config: RequestHeaderConfig, where: str = CONFIGMAP_NAME) -> RequestHeaderConfig:
    try:
        authorities = config.authorities
    except ValueError as error:
        raise ConfigurationError(f"request-header CA in {where} is not PEM: {error}") from None
    if not authorities:
        raise ConfigurationError(f"request-header CA in {where} holds no certificate")
    return config


def _json_list(data: Mapping[str, str], key: str) -> tuple[str, ...]:
    raw = data.get(key, "").strip()
    if not raw:
        return ()
    try:
        values = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise ConfigurationError(f"{key} is not a JSON list: {raw[:80]!r}") from None
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise ConfigurationError(f"{key} is not a JSON list of strings")
    return tuple(values)


def authenticate(
    config: RequestHeaderConfig | None,
    peer_der: bytes | None,
    headers: Headers,
    now: dt.datetime | None = None,
) -> RemoteUser:
    """The user the front proxy names, if the connection is the front proxy's."""
    if config is None:
        raise Unauthenticated("no request-header CA is configured")
    if not peer_der:
        raise Unauthenticated("no client certificate")
    certificate = x509.load_der_x509_certificate(peer_der)
    _check_issuer(config, certificate, now or dt.datetime.now(dt.UTC))
    names = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    common_name = str(names[0].value) if names else ""
    if config.allowed_names and common_name not in config.allowed_names:
        raise Unauthenticated(f"client certificate CN {common_name!r} is not an allowed name")
    user = _first(headers, config.username_headers)
    if not user:
        raise Unauthenticated("no user header")
    groups = tuple(g for h in config.group_headers for g in _all(headers, h))
    return RemoteUser(user, groups, _extra(headers, config.extra_prefixes))


def _check_issuer(
    config: RequestHeaderConfig, certificate: x509.Certificate, now: dt.datetime
) -> None:
    # The TLS handshake checked the chain against every CA the context trusts; only a
    # request-header CA may vouch for these headers, and only the CAs published now.
    if not certificate.not_valid_before_utc <= now <= certificate.not_valid_after_utc:
        raise Unauthenticated("client certificate expired or not yet valid")
    for authority in config.authorities:
        try:
            certificate.verify_directly_issued_by(authority)
        except (ValueError, TypeError, InvalidSignature):
            continue
        return
    raise Unauthenticated("client certificate not signed by the request-header CA")


def _all(headers: Headers, name: str) -> list[str]:
    getall = getattr(headers, "getall", None)
    if getall is not None:
        return list(getall(name, []))
    value = headers.get(name)
    return [value] if value is not None else []


def _first(headers: Headers, names: tuple[str, ...]) -> str:
    for name in names:
        for value in _all(headers, name):
            if value:
                return value
    return ""


def _extra(headers: Headers, prefixes: tuple[str, ...]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    found: dict[str, list[str]] = {}
    for name in headers:
        for prefix in prefixes:
            if name.lower().startswith(prefix.lower()):
                # Keys are percent-encoded and case-insensitive (lower-cased) on the wire.
                key = urllib.parse.unquote(name[len(prefix) :]).lower()
                found.setdefault(key, []).extend(_all(headers, name))
    return tuple((key, tuple(values)) for key, values in sorted(found.items()))


Source = Callable[[], RequestHeaderConfig]
"""Reads the current configuration (blocking: called in a thread)."""


def file_source(path: Path, allowed_names: tuple[str, ...]) -> Source:
    return lambda: config_from_file(path, allowed_names)


def configmap_source(kubeconfig: Path | None) -> Source:
    """The ConfigMap, read with the pod's service account (Role
    extension-apiserver-authentication-reader in kube-system), or the kubeconfig's context."""
    # Imported here: the official client (and urllib3 under it) costs a third of a second at
    # every start, and only this source needs it.
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException
    from urllib3.exceptions import HTTPError

    try:
        core = client.CoreV1Api(api_client(kubeconfig))
    except ClusterAccessError as error:
        raise ConfigurationError(
            f"--kube-api reads {CONFIGMAP_NAMESPACE}/{CONFIGMAP_NAME} and runs only in a pod "
            f"or with --kubeconfig (or give --requestheader-client-ca-file): {error}"
        ) from error

    def read() -> RequestHeaderConfig:
        try:
            found = core.read_namespaced_config_map(CONFIGMAP_NAME, CONFIGMAP_NAMESPACE)
        except (ApiException, HTTPError) as error:
            raise ConfigurationError(
                f"cannot read ConfigMap {CONFIGMAP_NAMESPACE}/{CONFIGMAP_NAME}: {error}"
            ) from error
        return config_from_configmap(found.data or {})

    return read


class RequestHeaderAuth:
    """The current request-header configuration, followed as its source changes.

    The TLS context must ask for client certificates and trust the CA, or no front-proxy
    certificate ever reaches `authenticate`. ssl cannot forget a CA it trusts, so a CA taken
    out of the ConfigMap stays trusted by the handshake; `authenticate` refuses it.
    """

    def __init__(self, source: Source) -> None:
        self._source = source
        self.config: RequestHeaderConfig | None = None
        self._contexts: list[ssl.SSLContext] = []
        self._failed: str | None = None

    async def start(self) -> None:
        """The first read: a failure is fatal, the message says what to fix."""
        self._apply(await asyncio.to_thread(self._source))

    def trust(self, context: ssl.SSLContext) -> None:
        """Make `context` ask for a client certificate (optional: the webhook's callers have
        none) and accept those the request-header CA signed."""
        context.verify_mode = ssl.CERT_OPTIONAL
        self._contexts.append(context)
        if self.config is not None:
            context.load_verify_locations(cadata=self.config.ca_pem.decode())

    async def reload(self) -> bool:
        """Read the source again; True when the configuration changed."""
        try:
            fresh = await asyncio.to_thread(self._source)
        except ConfigurationError as error:
            if str(error) != self._failed:
                log.warning("request-header configuration not reloaded: %s", error)
                self._failed = str(error)
            return False
        self._failed = None
        if self.config is not None and fresh.digest == self.config.digest:
            return False
        self._apply(fresh)
        log.info("request-header configuration reloaded")
        return True

    def _apply(self, fresh: RequestHeaderConfig) -> None:
        for context in self._contexts:
            context.load_verify_locations(cadata=fresh.ca_pem.decode())
        self.config = fresh

    async def watch(self, interval: float = DEFAULT_INTERVAL) -> None:
        while True:
            await asyncio.sleep(interval)
            await self.reload()

    @contextlib.asynccontextmanager
    async def following(
        self, context: ssl.SSLContext, interval: float = DEFAULT_INTERVAL
    ) -> AsyncIterator[RequestHeaderAuth]:
        """Read the source, trust its CA in `context`, and follow it until the block ends."""
        await self.start()
        self.trust(context)
        task = asyncio.create_task(self.watch(interval), name="request-header-watch")
        try:
            yield self
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

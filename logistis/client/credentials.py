"""Where the cluster's apiserver is and how to prove who we are, from the kubeconfig, as
kubectl reads it; an HTTP client that authenticates with them."""

from __future__ import annotations

import ssl
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

import httpx

from logistis.client.http import DEFAULT_TIMEOUT
from logistis.client.protocol import CollectorError

if TYPE_CHECKING:
    from kubernetes import client as kube_client


class KubeconfigError(CollectorError):
    """The kubeconfig cannot be loaded (no file, no such context, a failing exec plugin)."""


@dataclass(frozen=True)
class Credentials:
    """Where the apiserver is and how to prove who we are, from the kubeconfig."""

    host: str
    verify: ssl.SSLContext | bool
    configuration: kube_client.Configuration
    namespace: str = "default"
    """The context's namespace, as kubectl uses it without `-n`."""

    @property
    def authorization(self) -> str | None:
        # An exec plugin's token expires: the client library refreshes it through this hook.
        configuration = self.configuration
        # The library sets the hook to None in its constructor, which is all mypy infers of it.
        hook = cast(
            "Callable[[kube_client.Configuration], None] | None",
            configuration.refresh_api_key_hook,
        )
        if hook is not None:
            hook(configuration)
        return configuration.api_key.get("authorization") or configuration.api_key.get(
            "BearerToken"
        )


def load_credentials(kubeconfig: str | None, context: str | None) -> Credentials:
    """The kubeconfig as the official client reads it (blocking: exec plugins run here)."""
    # Imported here: the official client costs a third of a second, and a client given --url
    # never reads the kubeconfig. It is an extra of the clients (it pulls aiohttp): without it
    # there is no Kubernetes API to use, and `--via auto` takes the port-forward.
    try:
        from kubernetes import client as kube_client
        from kubernetes import config as kube_config
    except ImportError as error:
        raise KubeconfigError(
            f"reading the kubeconfig needs the kubernetes package ({error.name} is not "
            "installed): pip install 'logistis[kube-api]', or use --via port-forward"
        ) from None

    configuration = kube_client.Configuration()
    try:
        kube_config.load_kube_config(
            config_file=kubeconfig, context=context, client_configuration=configuration
        )
    except (kube_config.ConfigException, OSError, ValueError) as error:
        raise KubeconfigError(f"cannot use the kubeconfig: {error}") from error
    verify: ssl.SSLContext | bool = False
    if configuration.verify_ssl:
        verify = ssl.create_default_context(cafile=configuration.ssl_ca_cert)
        if configuration.cert_file:
            verify.load_cert_chain(configuration.cert_file, configuration.key_file)
    contexts, active = kube_config.list_kube_config_contexts(config_file=kubeconfig)
    chosen = next((c for c in contexts if c.get("name") == context), active) if context else active
    namespace = ((chosen or {}).get("context") or {}).get("namespace") or "default"
    return Credentials(configuration.host.rstrip("/"), verify, configuration, namespace)


class _KubeconfigAuth(httpx.Auth):
    def __init__(self, credentials: Credentials) -> None:
        self._credentials = credentials

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        authorization = self._credentials.authorization
        if authorization:
            request.headers["Authorization"] = authorization
        yield request


def kube_http(
    credentials: Credentials,
    transport: httpx.AsyncBaseTransport | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=credentials.host,
        verify=credentials.verify,
        auth=_KubeconfigAuth(credentials),
        transport=transport,
        timeout=timeout,
    )

"""How a front end reaches the collector: straight to `--url`, through the cluster's
Kubernetes API (when the APIService is installed), or through a port-forward."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from enum import StrEnum

from logistis.client.api import CollectorClient
from logistis.client.credentials import KubeconfigError, kube_http, load_credentials
from logistis.client.kubeapi import KubeAPIClient, KubeAPIError, served
from logistis.client.portforward import DEFAULT_NAMESPACE, PortForward, PortForwardError, Target
from logistis.client.protocol import CollectorError, CollectorUnreachable, HistoryClient

VIA_HELP = (
    "the cluster's Kubernetes API (logistis.io, under your RBAC) or a port-forward; "
    "auto: the API when the cluster serves it (default)"
)


class Via(StrEnum):
    """How to reach the history when no `--url` is given."""

    AUTO = "auto"
    """The Kubernetes API if the cluster serves it, else a port-forward."""
    KUBE_API = "kube-api"
    PORT_FORWARD = "port-forward"

    @classmethod
    def add_flag(cls, group: argparse._ArgumentGroup) -> None:
        """`--via`, the same in every front end."""
        group.add_argument(
            "--via", choices=[v.value for v in cls], default=cls.AUTO.value, help=VIA_HELP
        )


@asynccontextmanager
async def connect(
    url: str | None,
    *,
    context: str | None = None,
    kubeconfig: str | None = None,
    namespace: str = DEFAULT_NAMESPACE,
    kubectl: str = "kubectl",
    via: Via = Via.AUTO,
) -> AsyncIterator[HistoryClient]:
    """A client for the history, open for the block; a forward it opened is closed after.

    Raises `PortForwardError` when the forward cannot be opened, `CollectorError` when the
    Kubernetes API is asked for and cannot be used. Through a port-forward nothing is
    requested here: the first call says whether the collector answers.
    """
    if url:
        async with CollectorClient(url) as client:
            yield client
        return
    if via is not Via.PORT_FORWARD:
        kube = await _kube_api_client(context, kubeconfig, required=via is Via.KUBE_API)
        if kube is not None:
            async with kube:
                yield kube
            return
    target = Target(namespace=namespace, context=context, kubeconfig=kubeconfig)
    async with PortForward(target, kubectl=kubectl) as forward:

        async def reopen() -> str:
            # To the client a forward that cannot be reopened yet (the pod is restarting)
            # is an unreachable collector: it keeps retrying with backoff.
            try:
                return await forward.restart()
            except PortForwardError as error:
                raise CollectorUnreachable(str(error)) from error

        async with CollectorClient(forward.url, recover=reopen) as client:
            yield client


async def _kube_api_client(
    context: str | None, kubeconfig: str | None, *, required: bool
) -> KubeAPIClient | None:
    """A client through the Kubernetes API if the cluster serves the history; None (or, when
    `required`, the reason as an error) otherwise."""
    try:
        credentials = await asyncio.to_thread(load_credentials, kubeconfig, context)
    except KubeconfigError:
        if required:
            raise
        return None
    http = kube_http(credentials)
    try:
        available = await served(http)
    except (CollectorUnreachable, KubeAPIError):
        await http.aclose()
        if required:
            raise
        return None
    if not available:
        await http.aclose()
        if required:
            raise CollectorError(
                f"the cluster at {credentials.host} does not serve logistis.io/v1alpha1: "
                "is the APIService installed (manifests/components/kube-api)?"
            )
        return None
    return KubeAPIClient(http, default_namespace=credentials.namespace)

"""How a front end reaches the collector: straight to `--url`, or through a port-forward."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from logistis.tui.core.api import CollectorClient, CollectorUnreachable
from logistis.tui.core.portforward import DEFAULT_NAMESPACE, PortForward, PortForwardError, Target


@asynccontextmanager
async def connect(
    url: str | None,
    *,
    context: str | None = None,
    kubeconfig: str | None = None,
    namespace: str = DEFAULT_NAMESPACE,
    kubectl: str = "kubectl",
) -> AsyncIterator[CollectorClient]:
    """A client for the collector, open for the block; a forward it opened is closed after.

    Raises `PortForwardError` when the forward cannot be opened. Nothing is requested from
    the collector here: the first call says whether it answers.
    """
    if url:
        async with CollectorClient(url) as client:
            yield client
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

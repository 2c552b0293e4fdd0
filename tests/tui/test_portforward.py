"""PortForward and connect() against a stand-in kubectl that forwards to a real collector."""

from __future__ import annotations

import asyncio
import os
import signal
from urllib.parse import urlsplit

import pytest

from logistis.client.api import CollectorClient
from logistis.client.connect import connect
from logistis.client.events import EventFilter
from logistis.client.portforward import PortForward, PortForwardError, Target, explain
from tests.support.collector import CollectorProcess
from tests.tui.conftest import FakeKubectl


async def test_forward_reaches_the_collector_and_stops_kubectl(
    fake_kubectl: FakeKubectl, fed_collector: CollectorProcess
) -> None:
    fake_kubectl.serve(fed_collector.api_url)
    target = Target(namespace="audit", context="prod", kubeconfig="/tmp/kc")
    async with PortForward(target) as forward:
        assert forward.alive
        async with CollectorClient(forward.url) as client:
            page = await client.events(EventFilter(), limit=5)
        assert len(page.items) == 5
        [run] = fake_kubectl.runs()
    assert not forward.alive
    assert run["args"] == [
        "port-forward", "--namespace", "audit", "--address", "127.0.0.1",
        "pod/logistis-collector-0", ":8080", "--context", "prod", "--kubeconfig", "/tmp/kc",
    ]  # fmt: skip
    with pytest.raises(ProcessLookupError):
        os.kill(int(str(run["pid"])), 0)


async def test_without_the_single_pod_the_forward_goes_to_the_ha_deployment(
    fake_kubectl: FakeKubectl, fed_collector: CollectorProcess
) -> None:
    fake_kubectl.serve(fed_collector.api_url, mode="nopod")
    async with PortForward() as forward, CollectorClient(forward.url) as client:
        page = await client.events(EventFilter(), limit=5)
    assert len(page.items) == 5
    assert [run["args"][5] for run in fake_kubectl.runs()] == [
        "pod/logistis-collector-0",
        "deployment/logistis-collector",
    ]


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("notfound", 'pods "logistis-collector-0" not found (is logistis deployed there?'),
        ("forbidden", 'cannot create resource "pods/portforward"'),
        ("pending", "pod is not running. Current status=Pending (the collector is not up yet"),
        ("refused", "localhost:8080 was refused"),
        ("silent", "kubectl exited without saying why"),
    ],
)
async def test_kubectl_failures_become_one_line(
    fake_kubectl: FakeKubectl, mode: str, expected: str
) -> None:
    fake_kubectl.fail(mode)
    with pytest.raises(PortForwardError) as caught:
        async with PortForward():
            pass
    message = str(caught.value)
    assert expected in message
    assert message.startswith("port-forward to pod/logistis-collector-0 in namespace logistis: ")
    assert "\n" not in message
    assert "memcache.go" not in message


async def test_without_a_cluster_context_the_error_says_use_url(fake_kubectl: FakeKubectl) -> None:
    fake_kubectl.fail("nocontext")
    with pytest.raises(PortForwardError) as caught:
        async with PortForward():
            pass
    assert str(caught.value).startswith("no cluster context: use --url")


async def test_missing_kubectl_is_named() -> None:
    with pytest.raises(PortForwardError, match="kubectl-missing not found: install kubectl"):
        async with PortForward(kubectl="kubectl-missing"):
            pass


def test_explain_gives_rbac_advice() -> None:
    line = (
        'Error from server (Forbidden): pods "logistis-collector-0" is forbidden: User "eve" '
        'cannot get resource "pods" in API group "" in the namespace "logistis"'
    )
    assert explain([line]) == f"{line} (your RBAC role does not allow this)"


async def refused(url: str) -> None:
    """Wait until nothing listens at `url` any more (a killed process's sockets close)."""
    host, port = urlsplit(url).hostname, urlsplit(url).port
    for _ in range(250):
        try:
            _, writer = await asyncio.open_connection(host, port)
        except OSError:
            return
        writer.close()
        await asyncio.sleep(0.02)
    raise AssertionError(f"{url} still accepts connections")


async def test_restart_opens_a_new_forward_after_kubectl_died(
    fake_kubectl: FakeKubectl, fed_collector: CollectorProcess
) -> None:
    fake_kubectl.serve(fed_collector.api_url)
    async with connect(None) as client:
        first = client.base_url
        before = await client.namespaces()
        os.kill(int(str(fake_kubectl.runs()[0]["pid"])), signal.SIGKILL)
        await refused(first)
        await client.recover()
        assert client.base_url != first
        assert await client.namespaces() == before
    assert len(fake_kubectl.runs()) == 2

"""Blind spots through the Kubernetes API: `kubectl get blindspots`, and the TUI in Kubernetes
API mode showing where the history has holes, as it does through the port-forward.

The history is that of tests/tui/test_history_marks.py: the collector is stopped while alice's
label patch (082) goes by, so there is one blind spot, `stopped`.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from logistis.client.connect import Via, connect
from logistis.client.events import EventFilter
from logistis.client.kubeapi import KubeAPIClient
from logistis.tui.app import ConnectionSettings, LogistisApp
from logistis.tui.widgets.event_table import EventTable
from tests.kubeapi.conftest import GV, TABLE_ACCEPT
from tests.kubeapi.test_clients import ALICE, AUDITOR
from tests.support.collector import CollectorProcess
from tests.support.frontproxy import FrontProxy
from tests.support.kube_apiserver import Allow, Cluster, Running, serving
from tests.tui.conftest import wait_until
from tests.tui.test_history_marks import NGINX, history_with_holes, row_texts

# As the manifests grant it (a ClusterRoleBinding to system:authenticated), but for the auditor,
# whose cluster lacks that binding.
RULES = [
    Allow("alice", "changes", "team-a"),
    Allow("alice", "blindspots", verbs=("get", "list")),
    Allow("auditor", "changes"),
]


@pytest.fixture(scope="module")
def gapped(
    tmp_path_factory: pytest.TempPathFactory, front_proxy: FrontProxy
) -> Iterator[CollectorProcess]:
    data = tmp_path_factory.mktemp("gapped") / "data"
    with history_with_holes(data, *front_proxy.collector_args()) as collector:
        yield collector


@pytest.fixture(scope="module")
def apiserver(gapped: CollectorProcess, front_proxy: FrontProxy) -> Iterator[Running]:
    cluster = Cluster([ALICE, AUDITOR], RULES, ["team-a", "team-b"])
    with serving(cluster, gapped, front_proxy) as running:
        yield running


@pytest.fixture(scope="module")
def configs(apiserver: Running, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return apiserver.kubeconfigs(tmp_path_factory.mktemp("kubeconfigs"), "team-a")


def coverage(collector: CollectorProcess) -> list[dict]:
    with collector.client() as client:
        return client.get("/api/v1/coverage").json()["items"]


def kube_get(
    proxy: FrontProxy, collector: CollectorProcess, path: str, **params: str
) -> httpx.Response:
    with proxy.client(collector) as client:
        return client.get(path, params=params)


def test_the_blind_spots_are_those_of_the_coverage_api(gapped, front_proxy):
    (spot,) = coverage(gapped)
    assert spot["cause"] == "stopped"
    listed = kube_get(front_proxy, gapped, f"{GV}/blindspots").json()
    assert listed["kind"] == "BlindSpotList"
    assert listed["apiVersion"] == "logistis.io/v1alpha1"
    (item,) = listed["items"]
    assert item["kind"] == "BlindSpot"
    assert {k: item[k] for k in spot} == spot
    name = item["metadata"]["name"]
    assert item["metadata"]["creationTimestamp"] == spot["start"][:19] + "Z"
    one = kube_get(front_proxy, gapped, f"{GV}/blindspots/{name}")
    assert one.status_code == 200
    assert one.json() == item
    missing = kube_get(front_proxy, gapped, f"{GV}/blindspots/{int(name) + 1}")
    assert missing.status_code == 404
    assert missing.json()["reason"] == "NotFound"


def test_a_window_selects_the_spots_it_overlaps_and_watching_is_refused(gapped, front_proxy):
    (spot,) = coverage(gapped)
    before = kube_get(front_proxy, gapped, f"{GV}/blindspots", until=spot["start"]).json()
    during = kube_get(front_proxy, gapped, f"{GV}/blindspots", since=spot["start"]).json()
    assert before["items"] == []
    assert [i["start"] for i in during["items"]] == [spot["start"]]
    # kubectl get sends a limit; the few spots are served whole.
    assert kube_get(front_proxy, gapped, f"{GV}/blindspots", limit="500").status_code == 200
    # Any value but 0 or false is a watch to the apiserver, which authorized one.
    for value in ("1", "yes", ""):
        watched = kube_get(front_proxy, gapped, f"{GV}/blindspots", watch=value)
        assert watched.status_code == 405, value
        assert watched.json()["kind"] == "Status"
    odd = kube_get(front_proxy, gapped, f"{GV}/blindspots", fieldSelector="user=alice")
    assert odd.status_code == 400
    assert "fieldSelector" in odd.json()["message"]


def test_kubectl_get_shows_a_table_of_them(gapped, front_proxy):
    with front_proxy.client(gapped) as client:
        table = client.get(f"{GV}/blindspots", headers={"Accept": TABLE_ACCEPT}).json()
    assert table["kind"] == "Table"
    names = [c["name"] for c in table["columnDefinitions"]]
    assert names == ["Name", "Start", "End", "Duration", "Cause"]
    ((name, start, end, duration, cause),) = [r["cells"] for r in table["rows"]]
    (spot,) = coverage(gapped)
    assert (start, end, cause) == (spot["start"][:19] + "Z", spot["end"][:19] + "Z", "stopped")
    assert duration.endswith("s")
    assert table["rows"][0]["object"]["metadata"]["name"] == name


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl not installed")
def test_kubectl_lists_them_for_any_user_the_cluster_lets(configs, tmp_path: Path):
    result = subprocess.run(
        ["kubectl", "--kubeconfig", configs["alice"], "--cache-dir", str(tmp_path), "get",
         "blindspots"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    header, row = result.stdout.splitlines()
    assert header.split() == ["NAME", "START", "END", "DURATION", "CAUSE"]
    assert row.split()[-1] == "stopped"


async def test_the_tui_shows_the_blind_spot_through_the_kubernetes_api(configs):
    connection = ConnectionSettings(kubeconfig=configs["alice"], via=Via.KUBE_API)
    app = LogistisApp(connection, NGINX)
    async with app.run_test(size=(160, 50)) as pilot:
        table = app.browse.query_one(EventTable)
        await wait_until(pilot, lambda: any("blind spot" in t for t in row_texts(table)))
        (spot,) = [t for t in row_texts(table) if "blind spot" in t]
    assert "⋯" in spot
    assert "(stopped)" in spot


async def test_without_the_right_to_list_them_the_history_still_loads(configs, gapped):
    async with connect(None, kubeconfig=configs["auditor"], via=Via.KUBE_API) as client:
        assert isinstance(client, KubeAPIClient)
        assert await client.coverage() == ()
        page = await client.events(EventFilter(namespace="team-a"), limit=5)
    assert len(page.items) == 5

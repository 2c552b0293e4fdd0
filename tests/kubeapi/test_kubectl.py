"""The real kubectl, through the stand-in apiserver, to the collector: `kubectl get changes`
behaves like any resource, and RBAC decides per namespace."""

from __future__ import annotations

import queue
import shutil
import subprocess
import threading
import uuid
from collections.abc import Iterator

import pytest
import yaml

from tests.kubeapi.test_clients import ALICE, AUDITOR, cluster_for
from tests.support.collector import CollectorProcess, post_reviews
from tests.support.fixtures import bodies
from tests.support.kube_apiserver import Running, serving

pytestmark = pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl not installed")


@pytest.fixture(scope="module")
def apiserver(kube_collector, front_proxy) -> Iterator[Running]:
    with serving(cluster_for(kube_collector), kube_collector, front_proxy) as running:
        yield running


@pytest.fixture(scope="module")
def kubectl(apiserver: Running, tmp_path_factory: pytest.TempPathFactory):
    directory = tmp_path_factory.mktemp("kubectl")
    configs = {
        u.name: apiserver.kubeconfig(directory / u.name, u, "team-a") for u in (ALICE, AUDITOR)
    }

    def run(user: str, *args: str) -> subprocess.CompletedProcess[str]:
        command = [
            "kubectl",
            "--kubeconfig",
            str(configs[user]),
            "--cache-dir",
            str(directory / f"cache-{user}"),
            *args,
        ]
        return subprocess.run(command, capture_output=True, text=True, timeout=60)

    return run


def reference(collector: CollectorProcess, **params: str) -> list[dict]:
    with collector.client() as client:
        return client.get("/api/v1/events", params={"limit": 1000, **params}).json()["items"]


def test_kubectl_get_changes_in_a_namespace(kubectl, kube_collector):
    result = kubectl("alice", "get", "changes", "-n", "team-a")
    assert result.returncode == 0, result.stderr
    header, *rows = result.stdout.splitlines()
    assert header.split()[:5] == ["NAME", "AGE", "OPERATION", "USER", "KIND"]
    expected = reference(kube_collector, namespace="team-a")
    assert [int(r.split()[0]) for r in rows] == [e["id"] for e in expected]


def test_kubectl_get_one_change_as_yaml(kubectl, kube_collector):
    newest = reference(kube_collector, namespace="team-a")[0]
    result = kubectl("alice", "get", "chg", str(newest["id"]), "-n", "team-a", "-o", "yaml")
    assert result.returncode == 0, result.stderr
    change = yaml.safe_load(result.stdout)
    assert change["kind"] == "Change"
    assert change["event"]["user"]["username"] == newest["user"]["username"]
    assert "oldObject" in change


def test_kubectl_field_selector(kubectl, kube_collector):
    result = kubectl(
        "alice", "get", "changes", "-n", "team-a", "--field-selector", "user=alice", "-o", "name"
    )
    assert result.returncode == 0, result.stderr
    expected = reference(kube_collector, namespace="team-a", user="alice")
    assert result.stdout.split() == [f"change.logistis.io/{e['id']}" for e in expected]


def test_kubectl_is_forbidden_where_rbac_says_so(kubectl):
    for args in (("-n", "team-b"), ("-A",)):
        result = kubectl("alice", "get", "changes", *args)
        assert result.returncode == 1
        assert "Error from server (Forbidden)" in result.stderr
        assert 'cannot list resource "changes" in API group "logistis.io"' in result.stderr
    assert kubectl("auditor", "get", "changes", "-A", "-o", "name").returncode == 0


def test_kubectl_get_changes_all_namespaces_watch(tmp_path, front_proxy):
    with CollectorProcess(tmp_path / "data", *front_proxy.collector_args()) as collector:
        post_reviews(collector, bodies()[:3])
        listed = [e["id"] for e in reference(collector) if e["namespace"]]
        with serving(cluster_for(collector), collector, front_proxy) as running:
            config = running.kubeconfig(tmp_path / "kc", AUDITOR)
            command = ["kubectl", "--kubeconfig", str(config), "--cache-dir", str(tmp_path / "cache"),
                       "get", "changes", "-A", "-w", "--output-watch-events"]  # fmt: skip
            watcher = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
            lines: queue.Queue[str] = queue.Queue()
            threading.Thread(target=_lines, args=(watcher, lines), daemon=True).start()
            try:
                seen = [lines.get(timeout=30) for _ in range(1 + len(listed))]
                fresh = [b for b in bodies() if b["request"].get("namespace") == "team-a"][:8]
                for body in fresh:
                    body["request"]["uid"] = str(uuid.uuid4())
                post_reviews(collector, fresh)
                added = [
                    e["id"]
                    for e in reference(collector)
                    if e["namespace"] and e["id"] > max(listed)
                ]
                seen += [lines.get(timeout=30) for _ in added]
            finally:
                watcher.kill()
                watcher.wait()
    header, *events = seen
    assert header.split()[:3] == ["EVENT", "NAMESPACE", "NAME"]
    assert all(line.split()[0] == "ADDED" for line in events)
    assert [int(line.split()[2]) for line in events] == sorted(listed, reverse=True) + sorted(added)


def _lines(process: subprocess.Popen[str], into: queue.Queue[str]) -> None:
    assert process.stdout is not None
    for line in process.stdout:
        into.put(line.rstrip("\n"))


def test_kubectl_discovers_the_resources(kubectl):
    result = kubectl("alice", "api-resources", "--api-group=logistis.io", "--no-headers")
    assert result.returncode == 0, result.stderr
    rows = {line.split()[0]: line.split() for line in result.stdout.splitlines()}
    assert set(rows) == {"changes", "clusterchanges", "blindspots"}
    assert rows["changes"][1] == "chg"

"""`kubectl blame` without `--url`: through `kubectl port-forward`, with a stand-in kubectl.

The stand-in (tests/tui/fake_kubectl.py) forwards to the fed collector, or fails the way the
real kubectl does: RBAC refusal, a pod that is not there.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

from logistis.kubectl.discovery import parse_api_resources
from tests.blame.conftest import FAKE_KUBECTL, KUBECTL_BLAME, Fed, blame_env
from tests.blame.kubectl_discovery import API_RESOURCES

DISCOVERY = Path(__file__).with_name("kubectl_discovery.py")


def kubectl_on_path(tmp_path: Path, program: Path = FAKE_KUBECTL) -> dict[str, str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    kubectl = bin_dir / "kubectl"
    kubectl.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{program}" "$@"\n')
    kubectl.chmod(0o755)
    record = tmp_path / "kubectl-runs.jsonl"
    path = f"{bin_dir}{os.pathsep}{os.environ['PATH']}"
    return {**blame_env(tmp_path), "PATH": path, "FAKE_KUBECTL_RECORD": str(record)}


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(KUBECTL_BLAME), *args], capture_output=True, text=True, env=env, timeout=60
    )


def test_it_reaches_the_collector_through_a_port_forward(fed: Fed, tmp_path: Path) -> None:
    env = kubectl_on_path(tmp_path) | {
        "FAKE_KUBECTL_MODE": "serve",
        "FAKE_KUBECTL_UPSTREAM": urlsplit(fed.url).netloc,
    }
    result = run(
        [
            "deployments",
            "nginx",
            "-n",
            "team-a",
            "--context",
            "kind-dev",
            "--collector-namespace",
            "obs",
        ],
        env,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[1].startswith("team-a/Deployment/nginx ")
    (forward,) = [
        json.loads(line) for line in Path(env["FAKE_KUBECTL_RECORD"]).read_text().splitlines()
    ]
    args = forward["args"]
    assert args[:3] == ["port-forward", "--namespace", "obs"]
    assert args[args.index("--context") + 1] == "kind-dev"


def test_rbac_refusal_exits_6_with_kubectls_reason(tmp_path: Path) -> None:
    env = kubectl_on_path(tmp_path) | {"FAKE_KUBECTL_MODE": "forbidden"}
    result = run(["deploy", "-n", "team-a"], env)
    assert result.returncode == 6, result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("error: cannot open a port-forward to the collector: ")
    assert 'cannot create resource "pods/portforward"' in result.stderr


def test_missing_collector_pod_exits_6(tmp_path: Path) -> None:
    env = kubectl_on_path(tmp_path) | {"FAKE_KUBECTL_MODE": "notfound"}
    result = run(["deploy"], env)
    assert result.returncode == 6
    assert '"logistis-collector-0" not found' in result.stderr


def test_missing_kubectl_exits_6(tmp_path: Path) -> None:
    env = blame_env(tmp_path) | {"PATH": str(tmp_path / "empty")}
    result = run(["deploy"], env)
    assert result.returncode == 6, result.stderr
    assert result.stderr.count("\n") == 1
    assert "kubectl" in result.stderr


def serving(fed: Fed, env: dict[str, str]) -> dict[str, str]:
    return env | {"FAKE_KUBECTL_MODE": "serve", "FAKE_KUBECTL_UPSTREAM": urlsplit(fed.url).netloc}


def test_a_custom_resources_short_name_is_found_through_discovery(fed: Fed, tmp_path: Path) -> None:
    env = serving(fed, kubectl_on_path(tmp_path, DISCOVERY))
    result = run(["wd", "w1", "-n", "team-a"], env)
    assert result.returncode == 0, result.stderr
    assert [line.split()[1] for line in result.stdout.splitlines()[1:]] == [
        "DELETE", "UPDATE", "UPDATE", "UPDATE", "CREATE",
    ]  # fmt: skip
    runs = [
        json.loads(line)["args"]
        for line in Path(env["FAKE_KUBECTL_RECORD"]).read_text().splitlines()
    ]
    assert [args[0] for args in runs] == ["port-forward"], (
        "api-resources is answered before the record"
    )


def test_without_a_cluster_to_ask_an_unknown_type_stays_unknown(fed: Fed, tmp_path: Path) -> None:
    env = serving(fed, kubectl_on_path(tmp_path, DISCOVERY)) | {"FAKE_KUBECTL_DISCOVERY": "fail"}
    result = run(["wd", "-n", "team-a"], env)
    assert result.returncode == 3
    assert result.stderr == (
        'error: unknown resource type "wd": not a built-in type and never recorded by the collector\n'
    )
    direct = run(["wd", "-n", "team-a", "--url", fed.url], blame_env(tmp_path))
    assert direct.returncode == 3, "with --url no cluster is asked"


def test_api_resources_output_is_read_by_its_columns() -> None:
    types = {t.resource: t for t in parse_api_resources(API_RESOURCES)}
    assert types["bindings"].short_names == ()
    assert types["customresourcedefinitions"].short_names == ("crd", "crds")
    assert (types["widgets"].group, types["widgets"].kind, types["widgets"].namespaced) == (
        "example.com", "Widget", True,
    )  # fmt: skip
    assert types["namespaces"].namespaced is False
    assert types["pods"].group == ""
    assert parse_api_resources("") == []
    assert parse_api_resources("error: something else\n") == []

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

from tests.blame.conftest import FAKE_KUBECTL, KUBECTL_BLAME, Fed, blame_env


def kubectl_on_path(tmp_path: Path) -> dict[str, str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    kubectl = bin_dir / "kubectl"
    kubectl.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{FAKE_KUBECTL}" "$@"\n')
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

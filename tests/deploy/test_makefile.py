"""`make image`, `make deploy` and `make undeploy`, run for real in a copy of the project.

docker, kind and a cluster do not exist here, so the three commands are stand-in
scripts that log their arguments; `kubectl apply -k` renders the directory with the
real kubectl, so the test sees exactly what would have been applied.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.deploy.kustomize import ROOT

REAL_KUBECTL = shutil.which("kubectl")

STAND_IN = """#!/bin/sh
echo "{name} $*" >> "$TOOL_LOG"
"""
KUBECTL = """#!/bin/sh
echo "kubectl $*" >> "$TOOL_LOG"
case "$1 $2" in
  "config current-context") [ -n "$KUBE_CONTEXT" ] && echo "$KUBE_CONTEXT" ;;
  "apply -k") exec "$REAL_KUBECTL" kustomize "$3" > "$APPLIED" ;;
esac
"""


def documented_local_makefile() -> str:
    """The `.local/Makefile` example of docs/deploy.md, so the docs stay true."""
    (block,) = re.findall(r"```make\n(.*?)```", (ROOT / "docs" / "deploy.md").read_text(), re.S)
    return block


def _tool(directory: Path, name: str, script: str) -> str:
    path = directory / name
    path.write_text(script)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


class Project:
    """A copy of the files the deploy targets use, with stand-in tools."""

    def __init__(self, root: Path) -> None:
        self.root = root
        for name in ("Makefile", "Dockerfile", "pyproject.toml"):
            shutil.copy(ROOT / name, root / name)
        shutil.copytree(ROOT / "manifests", root / "manifests")
        bin_dir = root / "stand-ins"
        bin_dir.mkdir()
        self.log = root / "tools.log"
        self.applied = root / "applied.yaml"
        self.tools = {
            "DOCKER": _tool(bin_dir, "docker", STAND_IN.format(name="docker")),
            "KIND": _tool(bin_dir, "kind", STAND_IN.format(name="kind")),
            "KUBECTL": _tool(bin_dir, "kubectl", KUBECTL),
        }

    def make(
        self, target: str, context: str = "", directory: str = "."
    ) -> subprocess.CompletedProcess[str]:
        environment = {
            **os.environ,
            "TOOL_LOG": str(self.log),
            "APPLIED": str(self.applied),
            "REAL_KUBECTL": str(REAL_KUBECTL),
            "KUBE_CONTEXT": context,
        }
        variables = [f"{key}={value}" for key, value in self.tools.items()]
        return subprocess.run(
            ["make", "--no-print-directory", "-C", str(self.root / directory), target, *variables],
            capture_output=True,
            text=True,
            env=environment,
            timeout=60,
            check=False,
        )

    def calls(self) -> list[str]:
        return self.log.read_text().splitlines() if self.log.exists() else []

    def applied_image(self) -> str:
        objects = list(yaml.safe_load_all(self.applied.read_text()))
        (statefulset,) = [o for o in objects if o["kind"] == "StatefulSet"]
        (container,) = statefulset["spec"]["template"]["spec"]["containers"]
        return container["image"]


@pytest.fixture
def project(tmp_path: Path) -> Project:
    return Project(tmp_path)


def test_image_builds_with_the_configured_arguments(project: Project) -> None:
    result = project.make("image")
    assert result.returncode == 0, result.stderr
    assert project.calls() == ["docker build --tag ghcr.io/logistis/logistis:dev ."]


def test_deploy_to_kind_loads_the_image_then_applies(project: Project) -> None:
    result = project.make("deploy", context="kind-logistis-dev")
    assert result.returncode == 0, result.stderr
    assert project.calls() == [
        "docker build --tag ghcr.io/logistis/logistis:dev .",
        "kubectl config current-context",
        "kind load docker-image ghcr.io/logistis/logistis:dev --name logistis-dev",
        "kubectl apply -k .local/deploy",
    ]
    assert project.applied_image() == "ghcr.io/logistis/logistis:dev"


def test_deploy_elsewhere_does_not_use_kind(project: Project) -> None:
    result = project.make("deploy", context="prod-eu-1")
    assert result.returncode == 0, result.stderr
    assert not any(call.startswith("kind ") for call in project.calls())
    assert project.calls()[-1] == "kubectl apply -k .local/deploy"


def test_deploy_without_a_context_stops_before_applying(project: Project) -> None:
    result = project.make("deploy", context="")
    assert result.returncode != 0
    assert not any(call.startswith("kubectl apply") for call in project.calls())


def test_the_documented_local_makefile_sets_image_build_arguments_and_variant(
    project: Project,
) -> None:
    (project.root / ".local").mkdir()
    (project.root / ".local" / "Makefile").write_text(documented_local_makefile())
    result = project.make("deploy", context="kind-kind")
    assert result.returncode == 0, result.stderr
    build, _, load, _ = project.calls()
    image = "registry.example.com/platform/logistis:v0.1.0"
    assert build == (
        "docker build --load "
        "--build-arg BASEIMAGE=registry.example.com/python:3.11-slim-bookworm "
        "--build-arg RUNIMAGE=registry.example.com/python:3.11-slim-bookworm "
        f"--tag {image} ."
    )
    assert load == f"kind load docker-image {image} --name kind"
    assert project.applied_image() == image
    assert "kind: Certificate" in project.applied.read_text()

    project.log.unlink()
    assert project.make("undeploy").returncode == 0
    assert project.calls()[-1] == (
        "kubectl delete -k manifests/overlays/cert-manager --ignore-not-found"
    )


# The original logistis README's `.local/Makefile`, verbatim: it works from the project's
# root (the Makefile reads it) and from `.local/` itself (its `.DEFAULT` rule hands over).
ORIGINAL_LOCAL_MAKEFILE = """\
# .local/Makefile

IMAGE_REPO := custom.acme.org/logistis
IMAGE_TAG := v0.0.0-dev

DOCKER_BUILD_ARGS := --load \\
\t--build-arg BASEIMAGE=custom.acme.org/golang:xyz \\
\t--build-arg RUNIMAGE=custom.acme.org/alpine:xyz

export

.DEFAULT:
\tmake -C ../ $@
"""


@pytest.mark.parametrize("where", [".", ".local"])
def test_the_original_local_makefile_works_as_it_did(project: Project, where: str) -> None:
    (project.root / ".local").mkdir()
    (project.root / ".local" / "Makefile").write_text(ORIGINAL_LOCAL_MAKEFILE)
    result = project.make("image", directory=where)
    assert result.returncode == 0, result.stderr
    assert project.calls() == [
        "docker build --load --build-arg BASEIMAGE=custom.acme.org/golang:xyz "
        "--build-arg RUNIMAGE=custom.acme.org/alpine:xyz "
        "--tag custom.acme.org/logistis:v0.0.0-dev ."
    ]


def test_undeploy_removes_the_apiservice_and_webhook_configuration_first(
    project: Project,
) -> None:
    result = project.make("undeploy")
    assert result.returncode == 0, result.stderr
    assert project.calls() == [
        "kubectl delete apiservice v1alpha1.logistis.io --ignore-not-found",
        "kubectl delete validatingwebhookconfiguration logistis --ignore-not-found",
        "kubectl delete -k manifests --ignore-not-found",
    ]


def dry_run(target: str) -> list[str]:
    """The commands `make` would run for `target`, in the project itself (installed)."""
    result = subprocess.run(
        ["make", "--no-print-directory", "-n", "-C", str(ROOT), target],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout.splitlines()


def test_make_run_listens_on_loopback_only() -> None:
    # Locally there is no path token: on 0.0.0.0 anyone on the network could write history.
    (command,) = [line for line in dry_run("run") if "logistis-collector" in line]
    assert "--webhook-listen 127.0.0.1:8443" in command
    assert "--api-listen" not in command  # its default is loopback already


def test_make_tui_opens_the_tui_on_the_local_collector() -> None:
    (command,) = [line for line in dry_run("tui") if "logistis-tui" in line]
    assert command.endswith("/bin/logistis-tui --url http://127.0.0.1:8080")

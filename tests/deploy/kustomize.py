"""Rendering the manifests with the real `kubectl kustomize`."""

from __future__ import annotations

import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).parents[2]
MANIFESTS = ROOT / "manifests"
BASE = MANIFESTS
CERT_MANAGER = MANIFESTS / "overlays" / "cert-manager"
CUSTOM_IMAGE = MANIFESTS / "overlays" / "custom-image"
KUBE_API = MANIFESTS / "overlays" / "kube-api"
KUBE_API_CERT_MANAGER = MANIFESTS / "overlays" / "kube-api-cert-manager"
POSTGRES = MANIFESTS / "overlays" / "postgres"
HA = MANIFESTS / "overlays" / "ha"
VARIANTS = {
    "base": BASE,
    "cert-manager": CERT_MANAGER,
    "custom-image": CUSTOM_IMAGE,
    "kube-api": KUBE_API,
    "kube-api-cert-manager": KUBE_API_CERT_MANAGER,
    "postgres": POSTGRES,
    "ha": HA,
}
# The collector runs as a StatefulSet on SQLite, as a Deployment in the HA overlay.
WORKLOADS = ("StatefulSet", "Deployment")

Manifest = dict[str, Any]


@cache
def _render(directory: Path) -> str:
    result = subprocess.run(
        ["kubectl", "kustomize", str(directory)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, f"kubectl kustomize {directory}: {result.stderr}"
    return result.stdout


def render(directory: Path) -> list[Manifest]:
    """Fresh objects on every call: tests may change what they get."""
    return [doc for doc in yaml.safe_load_all(_render(directory)) if doc]


def find(objects: list[Manifest], kind: str, name: str | None = None) -> Manifest:
    matches = [o for o in objects if o["kind"] == kind and name in (None, o["metadata"]["name"])]
    assert len(matches) == 1, f"expected one {kind} {name or ''}, found {len(matches)}"
    return matches[0]


def workload(objects: list[Manifest]) -> Manifest:
    """The one StatefulSet or Deployment that runs the collector."""
    (found,) = [o for o in objects if o["kind"] in WORKLOADS]
    return found


def kinds(objects: list[Manifest]) -> set[str]:
    return {o["kind"] for o in objects}

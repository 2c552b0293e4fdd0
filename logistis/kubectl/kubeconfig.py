"""The namespace kubectl would use when `-n` is not given: the current context's, else `default`.

Read from the kubeconfig file the way kubectl finds it (`--kubeconfig`, else the first file
in `KUBECONFIG`, else `~/.kube/config`); no cluster is asked.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

DEFAULT_NAMESPACE = "default"


def default_namespace(
    kubeconfig: str | None = None,
    context: str | None = None,
    environ: Mapping[str, str] = os.environ,
) -> str:
    config = _load(_config_path(kubeconfig, environ))
    name = context or config.get("current-context")
    for entry in config.get("contexts") or ():
        if isinstance(entry, dict) and entry.get("name") == name:
            namespace = (entry.get("context") or {}).get("namespace")
            return namespace if isinstance(namespace, str) and namespace else DEFAULT_NAMESPACE
    return DEFAULT_NAMESPACE


def _config_path(kubeconfig: str | None, environ: Mapping[str, str]) -> Path:
    if kubeconfig:
        return Path(kubeconfig)
    listed = [p for p in environ.get("KUBECONFIG", "").split(os.pathsep) if p]
    return Path(listed[0]) if listed else Path.home() / ".kube" / "config"


def _load(path: Path) -> dict[str, Any]:
    # A missing or broken kubeconfig leaves kubectl's own default; kubectl itself will
    # complain about the file when a port-forward needs it.
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return {}
    return loaded if isinstance(loaded, dict) else {}

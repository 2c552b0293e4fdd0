"""Reviews for the notification tests (ConfigMap updates by people and controllers, a Secret
carrying a canary) and a collector's config file with a `notify` section."""

from __future__ import annotations

import base64
import copy
import json
import uuid
from pathlib import Path
from typing import Any

import yaml

from tests.support.fixtures import load
from tests.support.gitops import CONFIGMAP_APPLY, PEOPLE
from tests.support.secret_shapes import LAST_APPLIED, SECRET_FIXTURE

# Short timings through the config file, as an operator would set them.
FAST_DELIVERY = {
    "retryFirst": "100ms",
    "retryMax": "1s",
    "timeout": "2s",
    "lease": "2s",
    "poll": "100ms",
}


def configmap(namespace: str, name: str, value: int) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace, "resourceVersion": str(1000 + value)},
        "data": {"value": str(value)},
    }


def configmap_update(namespace: str, name: str, value: int, user: str = "alice") -> dict[str, Any]:
    """`value - 1` -> `value` in the ConfigMap's data, by `user` with kubectl edit."""
    body = copy.deepcopy(load(CONFIGMAP_APPLY)["body"])
    request = body["request"]
    request.update(
        uid=str(uuid.uuid4()),
        namespace=namespace,
        name=name,
        operation="UPDATE",
        userInfo={"username": user, "uid": "", "groups": PEOPLE},
        options={
            "kind": "UpdateOptions",
            "apiVersion": "meta.k8s.io/v1",
            "fieldManager": "kubectl-edit",
        },
        object=configmap(namespace, name, value),
        oldObject=configmap(namespace, name, value - 1),
    )
    return body


def secret_update(namespace: str, canary: str) -> dict[str, Any]:
    """A Secret's value changed to `canary`, the canary in its last-applied annotation too."""
    body = copy.deepcopy(load(SECRET_FIXTURE)["body"])
    request = body["request"]
    secret = copy.deepcopy(request["object"])
    secret["metadata"]["namespace"] = namespace
    encoded = base64.b64encode(canary.encode()).decode()
    old = copy.deepcopy(secret)
    secret["metadata"]["annotations"] = {
        LAST_APPLIED: json.dumps({"apiVersion": "v1", "kind": "Secret", "data": {"token": encoded}})
    }
    secret["data"] = {**secret["data"], "token": encoded}
    request.update(
        uid=str(uuid.uuid4()),
        namespace=namespace,
        name=secret["metadata"]["name"],
        operation="UPDATE",
        userInfo={"username": "alice", "uid": "", "groups": PEOPLE},
        object=secret,
        oldObject=old,
    )
    return body


def write_config(
    path: Path, sinks: list[dict[str, Any]], rules: list[dict[str, Any]], **extra: Any
) -> Path:
    notify = {"delivery": FAST_DELIVERY, "sinks": sinks, "rules": rules, **extra}
    path.write_text(yaml.safe_dump({"notify": notify}))
    return path

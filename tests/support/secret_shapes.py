"""Reviews whose `last-applied-configuration` annotation holds a Secret in a shape other than
the one manifest kubectl writes: a `kind: List` of it, a JSON array, a JSON string literal, and
on a ConfigMap a manifest whose kind is spelled with a JSON escape. Each carries values of its
own, so that a scan can tell whether any of them was kept."""

from __future__ import annotations

import base64
import copy
import json
import uuid
from collections.abc import Callable
from typing import Any

from tests.support.fixtures import bodies, load

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
SECRET_FIXTURE = 145


def shape_value(shape: str) -> str:
    return f"odd-{shape}-Vq8xK2"


def secret_manifest(value: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "odd", "namespace": "team-b"},
        "data": {"token": base64.b64encode(value.encode()).decode()},
        "stringData": {"password": value},
    }


SHAPES: dict[str, tuple[str, Callable[[dict[str, Any]], str]]] = {
    # shape: (the resource whose annotation holds it, the annotation's text)
    "list": ("secrets", lambda m: json.dumps({"apiVersion": "v1", "kind": "List", "items": [m]})),
    "array": ("secrets", lambda m: json.dumps([m])),
    "string": ("secrets", lambda m: json.dumps(json.dumps(m))),
    "escaped-kind": (
        "configmaps",
        lambda m: json.dumps(m).replace('"Secret"', '"Secr\\u0065t"'),
    ),
    "configmap-list": ("configmaps", lambda m: json.dumps({"kind": "List", "items": [m]})),
    "nested": (
        "configmaps",
        lambda m: json.dumps(
            {"kind": "ConfigMap", "metadata": {"annotations": {LAST_APPLIED: json.dumps(m)}}}
        ),
    ),
}


def odd_values() -> set[str]:
    """Every value the odd shapes carry, plain and base64."""
    plain = {shape_value(shape) for shape in SHAPES}
    return plain | {base64.b64encode(v.encode()).decode() for v in plain}


def odd_reviews() -> list[dict[str, Any]]:
    """One review per shape, each a new request (uid and name of its own)."""
    bases = {
        "secrets": load(SECRET_FIXTURE)["body"],
        "configmaps": next(
            b
            for b in bodies()
            if b["request"]["resource"]["resource"] == "configmaps"
            and b["request"]["object"] is not None
            and not b["request"]["dryRun"]
        ),
    }
    reviews = []
    for shape, (resource, annotation) in SHAPES.items():
        review = copy.deepcopy(bases[resource])
        request = review["request"]
        request["uid"] = str(uuid.uuid4())
        request["name"] = request["object"]["metadata"]["name"] = f"odd-{shape}"
        metadata = request["object"]["metadata"]
        text = annotation(secret_manifest(shape_value(shape)))
        metadata["annotations"] = {**(metadata.get("annotations") or {}), LAST_APPLIED: text}
        reviews.append(review)
    return reviews

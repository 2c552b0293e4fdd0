"""Validating objects offline against the kube-apiserver's own OpenAPI v3 documents.

Kubernetes schemas allow unknown fields; kubectl's default strict field validation does
not, so every object schema here is closed (`additionalProperties: false`) to catch a
misspelt field the way `kubectl apply` would.
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from jsonschema import Draft4Validator

DEFAULT_DIR = Path(__file__).parents[2] / "testdata" / "openapi"


def openapi_dir() -> Path:
    return Path(os.environ.get("LOGISTIS_OPENAPI", DEFAULT_DIR))


def _closed(schema: Any) -> Any:
    """A copy with every object schema that lists its properties closed to others."""
    if isinstance(schema, list):
        return [_closed(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    closed = {key: _closed(value) for key, value in schema.items()}
    if "properties" in schema and "additionalProperties" not in schema:
        closed["additionalProperties"] = False
    return closed


class Schemas:
    """Every kind of the documents in a directory, keyed by (apiVersion, kind)."""

    def __init__(self, directory: Path) -> None:
        self._validators: dict[tuple[str, str], Draft4Validator] = {}
        self._by_name: dict[str, Draft4Validator] = {}
        for path in sorted(directory.glob("ap*.json")):
            self._add_document(json.loads(path.read_text()))

    def _add_document(self, document: dict[str, Any]) -> None:
        components = _closed(copy.deepcopy(document["components"]))
        for name, schema in components["schemas"].items():
            root = {"$ref": f"#/components/schemas/{name}", "components": components}
            self._by_name.setdefault(name, Draft4Validator(root))
            for gvk in schema.get("x-kubernetes-group-version-kind", []):
                api_version = "/".join(filter(None, (gvk["group"], gvk["version"])))
                self._validators.setdefault((api_version, gvk["kind"]), Draft4Validator(root))

    def errors_as(self, name: str, obj: Any) -> list[str]:
        """`obj` against the schema `name` (for shapes without a kind of their own)."""
        return [
            f"/{'/'.join(str(p) for p in e.absolute_path)}: {e.message}"
            for e in self._by_name[name].iter_errors(obj)
        ]

    def knows(self, obj: dict[str, Any]) -> bool:
        return (obj["apiVersion"], obj["kind"]) in self._validators

    def errors(self, obj: dict[str, Any]) -> Iterator[str]:
        validator = self._validators[(obj["apiVersion"], obj["kind"])]
        for error in validator.iter_errors(obj):
            path = "/".join(str(p) for p in error.absolute_path)
            yield f"{obj['kind']}/{obj['metadata']['name']} at /{path}: {error.message}"

"""Objects checked against the official Kubernetes Python client's models.

For kinds the OpenAPI documents in testdata/openapi do not hold (APIService, APIGroupList),
the client's generated models are the schema at hand: every field must be one the model
knows (checked here, recursively, since the models drop unknown input silently), and the
model's own validation checks required fields and types.
"""

from __future__ import annotations

import re
from typing import Any

import pydantic
from kubernetes import client

_NESTED = re.compile(r"^(?:List\[(?P<item>\w+)\]|Dict\[str, (?P<value>\w+)\]|(?P<one>\w+))$")


def model_errors(data: Any, model: str, path: str = "") -> list[str]:
    cls = getattr(client, model)
    fields = {wire: attr for attr, wire in cls.attribute_map.items()}
    errors = [f"{path}/{key}: not a field of {model}" for key in data if key not in fields]
    for key, value in data.items():
        if key in fields and value is not None:
            errors += _nested_errors(value, cls.openapi_types[fields[key]], f"{path}/{key}")
    if not path:
        try:
            cls.from_dict(data)
        except (pydantic.ValidationError, ValueError, TypeError) as error:
            errors.append(f"{model}: {error}")
    return errors


def _nested_errors(value: Any, declared: str, path: str) -> list[str]:
    match = _NESTED.match(declared)
    if match is None:
        return []
    if match["item"] and hasattr(client, match["item"]):
        return [
            e for i, v in enumerate(value) for e in model_errors(v, match["item"], f"{path}/{i}")
        ]
    if match["value"] and hasattr(client, match["value"]):
        return [e for k, v in value.items() for e in model_errors(v, match["value"], f"{path}/{k}")]
    if match["one"] and hasattr(client, match["one"]) and isinstance(value, dict):
        return model_errors(value, match["one"], path)
    return []

"""Which field manager owns a field, read from an object's `metadata.managedFields`.

Not every write names its field manager in the admission request (`kubectl scale` and the
controllers' status writes do not); the apiserver still records one in managedFields.
`fieldsV1` spells a path with `f:<field>`, list items by `k:<merge key JSON>`,
`v:<value JSON>` or `i:<index>`.
"""

from __future__ import annotations

import json
from typing import Any

from logistis.client.events import Event
from logistis.client.yamltext import FieldPath


def owner_of(obj: Any, path: FieldPath, *, subresource: str = "") -> str | None:
    """The manager that owns `path` in `obj`, preferring one that wrote through `subresource`."""
    entries = _entries(obj)
    for wanted in (subresource, None):
        for entry in entries:
            if wanted is not None and entry.get("subresource", "") != wanted:
                continue
            if _covers(entry.get("fieldsV1"), obj, path):
                return str(entry.get("manager", "")) or None
    return None


def _entries(obj: Any) -> list[dict[str, Any]]:
    metadata = obj.get("metadata") if isinstance(obj, dict) else None
    entries = metadata.get("managedFields") if isinstance(metadata, dict) else None
    return [e for e in entries or () if isinstance(e, dict)]


def _covers(fields: Any, obj: Any, path: FieldPath) -> bool:
    for part in path:
        if not isinstance(fields, dict):
            return False
        if isinstance(part, int) and isinstance(obj, list):
            item = obj[part] if part < len(obj) else None
            fields = _item_fields(fields, item, part)
            obj = item
        else:
            fields = fields.get(f"f:{part}")
            obj = obj.get(part) if isinstance(obj, dict) else None
    return fields is not None


def _item_fields(fields: dict[str, Any], item: Any, index: int) -> Any:
    for name, sub in fields.items():
        prefix, _, encoded = name.partition(":")
        if prefix == "i" and encoded == str(index):
            return sub
        if prefix in ("k", "v") and _matches(prefix, encoded, item):
            return sub
    return None


def _matches(prefix: str, encoded: str, item: Any) -> bool:
    try:
        wanted = json.loads(encoded)
    except ValueError:
        return False
    if prefix == "v":
        return bool(wanted == item)
    return (
        isinstance(wanted, dict)
        and isinstance(item, dict)
        and all(item.get(k) == v for k, v in wanted.items())
    )


def write_manager(event: Event) -> str:
    """The field manager of a write: the one its request named, else the one the apiserver
    recorded in the new object's managedFields as owning a field the write changed (controllers'
    status writes name none in the request); "" when neither says. `event` must be full."""
    if event.field_manager or not isinstance(event.object, dict):
        return event.field_manager
    sub = event.resource.subresource
    for change in event.changes:
        owner = owner_of(event.object, _pointer_path(change.path), subresource=sub)
        if owner is not None:
            return owner
    return ""


def _pointer_path(pointer: str) -> FieldPath:
    tokens = (t.replace("~1", "/").replace("~0", "~") for t in pointer.lstrip("/").split("/"))
    return tuple(int(t) if t.isdigit() else t for t in tokens if pointer)

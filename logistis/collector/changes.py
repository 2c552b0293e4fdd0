"""The change summary of an event: the RFC 6902 paths from old to new object, values left out."""

from __future__ import annotations

import re
from typing import Any

import jsonpatch

# Fields the apiserver rewrites on every write; a change there says nothing about intent.
NOISE_PATHS = (
    "/metadata/managedFields",
    "/metadata/resourceVersion",
    "/metadata/generation",
    "/metadata/uid",
    "/metadata/creationTimestamp",
    "/metadata/selfLink",
)
# Controllers refresh these on every status write even when the condition itself holds still;
# `lastTransitionTime` is kept, it moves only when the condition does (as in tui/core/diff.py).
_HEARTBEATS = re.compile(
    r"^/status/conditions/\d+/(lastUpdateTime|lastHeartbeatTime|lastProbeTime)$"
)
_NOISE_KEYS = (
    "managedFields",
    "resourceVersion",
    "generation",
    "uid",
    "creationTimestamp",
    "selfLink",
)

CREATED = [{"op": "add", "path": ""}]
DELETED = [{"op": "remove", "path": ""}]


def compute_changes(
    operation: str, old: dict[str, Any] | None, new: dict[str, Any] | None
) -> list[dict[str, str]]:
    if operation == "CONNECT":
        return []
    if old is None:
        return list(CREATED) if new is not None else []
    if new is None:
        return list(DELETED)
    patch = jsonpatch.make_patch(*_differing(_without_noise(old), _without_noise(new)))
    return [_without_value(op) for op in patch.patch if not _is_noise(op["path"])]


def _differing(old: dict[str, Any], new: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Both objects without the members they share unchanged, at every depth of nested objects.

    Equality is checked in C, while jsonpatch walks every member in Python; an update usually
    changes a few fields of a large object. Leaving out a member present and equal on both
    sides changes no operation of the patch (list items are kept: their indexes matter).
    """
    old_part, new_part = {}, {}
    for key, value in old.items():
        if key not in new:
            old_part[key] = value
            continue
        other = new[key]
        if value == other:
            continue
        if type(value) is dict and type(other) is dict:
            value, other = _differing(value, other)
        old_part[key], new_part[key] = value, other
    for key, value in new.items():
        if key not in old:
            new_part[key] = value
    return old_part, new_part


def _without_noise(obj: dict[str, Any]) -> dict[str, Any]:
    metadata = obj.get("metadata")
    if not isinstance(metadata, dict):
        return obj
    # Dropping the noise before diffing also spares diffing the bulky managedFields.
    return {**obj, "metadata": {k: v for k, v in metadata.items() if k not in _NOISE_KEYS}}


def _is_noise(path: str) -> bool:
    return any(path == p or path.startswith(p + "/") for p in NOISE_PATHS) or bool(
        _HEARTBEATS.match(path)
    )


def _without_value(op: dict[str, Any]) -> dict[str, str]:
    kept = {"op": op["op"], "path": op["path"]}
    if "from" in op:
        kept["from"] = op["from"]
    return kept

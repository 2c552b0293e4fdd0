"""The change summary of an event: the RFC 6902 paths from old to new object, values left out.

jsonpatch's diff takes time quadratic in a list's changed items (20 s for 100,000), and one
review may change that many (a ConfigMap's data, a custom resource's array). So the size of a
change is counted first, in one linear walk: up to `EXACT_ITEMS` changed items, the summary is
jsonpatch's, operation by operation; past it, the members that hold most of the change are
summarized as one entry each, `{"op": "replace", "path": "/data", "count": 60000}`, and the rest
is still jsonpatch's. The event itself is recorded whole either way. Where jsonpatch's diff
would only walk the objects (no list items to match up, no value moved: most updates), the
summary walks them itself, to the same operations in the same order, at a third of the cost.
"""

from __future__ import annotations

import re
from typing import Any

import jsonpatch
import orjson

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
# `lastTransitionTime` is kept, it moves only when the condition does (as in client/diff.py).
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

# Changed items (members, list items, scalars) summarized operation by operation; about 25 ms of
# jsonpatch's time at the most.
EXACT_ITEMS = 1000
# An object with more changed members than this, past the limit above, is one entry: its
# members are not looked into one by one.
COARSE_MEMBERS = 100

CREATED = [{"op": "add", "path": ""}]
DELETED = [{"op": "remove", "path": ""}]


def compute_changes(
    operation: str, old: dict[str, Any] | None, new: dict[str, Any] | None
) -> list[dict[str, Any]]:
    if operation == "CONNECT":
        return []
    if old is None:
        return list(CREATED) if new is not None else []
    if new is None:
        return list(DELETED)
    offsets: dict[str, int] = {}
    old, new = _differing(_without_noise(old), _without_noise(new), "", offsets)
    coarse: list[dict[str, Any]] = []
    memo: Measures = {}
    if _measured(old, new, memo)[0] > EXACT_ITEMS:
        coarse, _ = _summarized(old, new, "", EXACT_ITEMS, memo)
    patch = _members_patch(old, new)
    if patch is None:
        patch = jsonpatch.make_patch(old, new).patch
    if offsets:
        patch = [_shifted(op, offsets) for op in patch]
    return coarse + [_without_value(op) for op in patch if not _is_noise(op["path"])]


def _members_patch(old: dict[str, Any], new: dict[str, Any]) -> list[dict[str, str]] | None:
    """jsonpatch's operations, made without it, for the objects it needs no more than a walk
    for: lists whose items it would compare by position (as long on both sides with no item
    in common, or one side empty), and no value removed in one place and added in another
    (no move). Most updates (status, labels, a field, a condition), in a fraction of the time;
    None for the others."""
    walk = _Walk()
    if not walk.members(old, new, "") or not walk.no_moves():
        return None
    return walk.ops


class _Walk:
    """The operations in jsonpatch's order: an object's members removed, added, then those
    on both sides, each in its object's order; a list's items by position."""

    def __init__(self) -> None:
        self.ops: list[dict[str, str]] = []
        # The values jsonpatch's diff would pair up as moves, if any were equal.
        self.removed: list[Any] = []
        self.added: list[Any] = []

    def members(self, old: dict[str, Any], new: dict[str, Any], path: str) -> bool:
        for key, value in old.items():
            if key not in new:
                self._op("remove", f"{path}/{_escaped(key)}")
                self.removed.append(value)
        for key, value in new.items():
            if key not in old:
                self._op("add", f"{path}/{_escaped(key)}")
                self.added.append(value)
        for key, before in old.items():
            if key in new and not self._values(before, new[key], f"{path}/{_escaped(key)}", False):
                return False
        return True

    def items(self, old: list[Any], new: list[Any], path: str) -> bool:
        """False for lists jsonpatch would match up item by item."""
        if not old or not new:
            for index in range(len(new)):
                self._op("add", f"{path}/{index}")
            for _ in old:
                self._op("remove", f"{path}/0")  # each removal takes the first left
            self.removed += old
            self.added += new
            return True
        if len(old) != len(new) or not _apart(old, new):
            return False
        return all(
            self._values(before, after, f"{path}/{index}", True)
            for index, (before, after) in enumerate(zip(old, new, strict=True))
        )

    def _values(self, old: Any, new: Any, path: str, item: bool) -> bool:
        if type(old) in _CONTAINERS and _same(old, new):
            return True  # inside a list's item, members are not left out when equal
        if type(old) is dict and type(new) is dict:
            return self.members(old, new, path)
        if type(old) is list and type(new) is list:
            return self.items(old, new, path)
        if not _same_scalar(old, new):
            self._op("replace", path)
            if item:  # a list's item is removed and added, and may be moved
                self.removed.append(old)
                self.added.append(new)
        return True

    def _op(self, op: str, path: str) -> None:
        self.ops.append({"op": op, "path": path})

    def no_moves(self) -> bool:
        return not self.removed or not self.added or _apart(self.removed, self.added)


def _same_scalar(old: Any, new: Any) -> bool:
    """Equal as JSON text, as jsonpatch compares values that are not two containers: 1 is
    not true, nor 1.0, and 0.0 is not -0.0."""
    return (
        type(old) is type(new) and old == new and (type(old) is not float or repr(old) == repr(new))
    )


def _apart(old: list[Any], new: list[Any]) -> bool:
    """Whether no value of `old` is equal as JSON to one of `new` (jsonpatch would pair them
    up); False for a value JSON cannot say (jsonpatch decides then)."""
    try:
        gone = {orjson.dumps(value, option=orjson.OPT_SORT_KEYS) for value in old}
        return not any(orjson.dumps(value, option=orjson.OPT_SORT_KEYS) in gone for value in new)
    except (TypeError, orjson.JSONEncodeError):
        return False


# What `_measured` found for each pair of containers in one summary, by the old one's id (kept
# alive with it, so that no id is reused): looking into a member measures it again otherwise,
# once per level of depth.
Measures = dict[int, tuple[Any, tuple[int, int]]]


def _measured(old: Any, new: Any, memo: Measures) -> tuple[int, int]:
    """Two values that differ, measured in one linear walk: the work of jsonpatch's diff (the
    items it compares one by one: it matches a list's items up within the whole run between
    their common start and end, in time that grows with the run times its changes), and how
    many items differ, compared by position."""
    if type(old) is not type(new) or type(old) not in _CONTAINERS:
        return 1, 1
    found = memo.get(id(old))
    if found is None:
        walk = _dict_measured if type(old) is dict else _list_measured
        found = memo[id(old)] = (old, walk(old, new, memo))
    return found[1]


def _dict_measured(old: dict[str, Any], new: dict[str, Any], memo: Measures) -> tuple[int, int]:
    work = changed = len(new.keys() - old.keys())
    for key, value in old.items():
        if key not in new:
            work, changed = work + 1, changed + 1
        elif value != new[key]:
            # A scalar is one item: a call for each of 60,000 keys was most of the walk.
            inner_work, inner_changed = (
                _measured(value, new[key], memo) if type(value) in _CONTAINERS else (1, 1)
            )
            work, changed = work + inner_work, changed + inner_changed
    return work, changed


def _list_measured(old: list[Any], new: list[Any], memo: Measures) -> tuple[int, int]:
    start, old_end, new_end = _differing_run(old, new)
    work, changed = max(old_end, new_end) - start, abs(old_end - new_end)
    for before, after in zip(old[start:old_end], new[start:new_end], strict=False):
        if type(before) in _CONTAINERS:
            if not _same(before, after):
                inner_work, inner_changed = _measured(before, after, memo)
                work, changed = work + inner_work - 1, changed + inner_changed
        elif before != after or type(before) is not type(after):
            changed += 1
    return work, changed


_CONTAINERS = (dict, list)


def _differing_run(old: list[Any], new: list[Any]) -> tuple[int, int, int]:
    """Where two lists stop being the same from the start and from the end: the start, and the
    end in each."""
    shorter = min(len(old), len(new))
    start = 0
    while start < shorter and _same(old[start], new[start]):
        start += 1
    end = 0
    while end < shorter - start and _same(old[-1 - end], new[-1 - end]):
        end += 1
    return start, len(old) - end, len(new) - end


def _same(old: Any, new: Any) -> bool:
    """Equal as JSON, as jsonpatch compares list items: 1 is not true, nor 1.0."""
    if old != new:
        return False
    if type(old) is not type(new):
        return False
    if type(old) in (dict, list):
        try:
            return orjson.dumps(old, option=orjson.OPT_SORT_KEYS) == orjson.dumps(
                new, option=orjson.OPT_SORT_KEYS
            )
        except (TypeError, orjson.JSONEncodeError):
            return False  # counted as changed: only makes the summary coarse sooner
    return True


def _summarized(
    old: dict[str, Any], new: dict[str, Any], path: str, budget: int, memo: Measures
) -> tuple[list[dict[str, Any]], int]:
    """The entries of the members too large to diff one by one, each taken out of both objects
    so that jsonpatch diffs the rest alone; and what is left of `budget`. Members are diffed
    exactly while the budget (changed items) lasts; past it an object is looked into, member by
    member, unless it has too many changed members: then it is one entry, as is anything else."""
    if len(old.keys() | new.keys()) > COARSE_MEMBERS:
        _, count = _measured(old, new, memo)
        old.clear()
        new.clear()
        return [{"op": "replace", "path": path, "count": count}], budget
    entries: list[dict[str, Any]] = []
    for key in [key for key in old if key in new]:
        member = f"{path}/{_escaped(key)}"
        before, after = old[key], new[key]
        work, count = _measured(before, after, memo)
        if work <= budget:
            budget -= work
        elif type(before) is dict and type(after) is dict:
            inner, budget = _summarized(before, after, member, budget, memo)
            entries.extend(inner)
        else:
            del old[key], new[key]
            entries.append({"op": "replace", "path": member, "count": count})
    return entries, budget


def _escaped(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


def _differing(
    old: dict[str, Any], new: dict[str, Any], path: str, offsets: dict[str, int]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Both objects without the members they share unchanged, at every depth of nested objects,
    and their lists without the items they share at the start and the end.

    Equality is checked in C, while jsonpatch walks every member in Python; an update usually
    changes a few fields of a large object. Leaving out a member present and equal on both
    sides changes no operation of the patch. jsonpatch matches a list's items up only between
    their common start and end, so leaving those out changes none either, but the indexes:
    each list cut at its start is in `offsets` (its path: the items left out), for `_shifted`.
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
            value, other = _differing(value, other, f"{path}/{_escaped(key)}", offsets)
        elif type(value) is list and type(other) is list:
            start, old_end, new_end = _differing_run(value, other)
            if start:
                offsets[f"{path}/{_escaped(key)}"] = start
            value, other = value[start:old_end], other[start:new_end]
        old_part[key], new_part[key] = value, other
    for key, value in new.items():
        if key not in old:
            new_part[key] = value
    return old_part, new_part


def _shifted(op: dict[str, Any], offsets: dict[str, int]) -> dict[str, Any]:
    """An operation of the patch of cut lists, with the indexes of the whole lists."""
    shifted = dict(op)
    for member in ("path", "from"):
        if member not in op:
            continue
        parts = op[member].split("/")
        for depth in range(1, len(parts) - 1):
            start = offsets.get("/".join(parts[: depth + 1]))
            if start is not None:
                parts[depth + 1] = str(int(parts[depth + 1]) + start)
                shifted[member] = "/".join(parts)
                break
    return shifted


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

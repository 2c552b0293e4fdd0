"""How a change to a Kubernetes object is shown, for the TUI and `kubectl blame` alike.

Noise is what the apiserver or a controller rewrites on every write without anyone asking:
`metadata.managedFields`, `resourceVersion`, `generation`, `uid`, `creationTimestamp`,
`selfLink`, the `creationTimestamp: null` that Go serialises into every pod template, and
the heartbeat timestamps of status conditions (`lastUpdateTime`, `lastHeartbeatTime`,
`lastProbeTime`). A condition's `lastTransitionTime` is kept: it moves only when the
condition does, so it is part of the story. Noise is hidden unless asked for.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import jsonpatch

from logistis.client.yamltext import FieldPath, YamlLine, to_yaml, yaml_lines

__all__ = [
    "NOISE",
    "DiffKind",
    "DiffLine",
    "patch_lines",
    "patch_ops",
    "strip_noise",
    "summarize_changes",
    "to_yaml",
    "unified_diff",
]

ANY = "*"

# Field paths hidden by default; `*` matches any key or list index.
NOISE: tuple[tuple[str, ...], ...] = (
    ("metadata", "managedFields"),
    ("metadata", "resourceVersion"),
    ("metadata", "generation"),
    ("metadata", "uid"),
    ("metadata", "creationTimestamp"),
    ("metadata", "selfLink"),
    ("spec", "template", "metadata", "creationTimestamp"),
    ("spec", "jobTemplate", "metadata", "creationTimestamp"),
    ("spec", "jobTemplate", "spec", "template", "metadata", "creationTimestamp"),
    ("status", "conditions", ANY, "lastUpdateTime"),
    ("status", "conditions", ANY, "lastHeartbeatTime"),
    ("status", "conditions", ANY, "lastProbeTime"),
)

ELISION = "[...]"
_WHOLE_OBJECT = ""


class DiffKind(StrEnum):
    ADD = "add"
    REMOVE = "remove"
    CONTEXT = "context"
    ELISION = "elision"
    HEADER = "header"


@dataclass(frozen=True, slots=True)
class DiffLine:
    """One line of a rendered diff; `text` has no `+`/`-` marker, `kind` says which it is."""

    kind: DiffKind
    text: str
    path: FieldPath = ()

    @property
    def marked(self) -> str:
        """The line as plain text, marked the way `diff -u` marks it."""
        marker = {DiffKind.ADD: "+ ", DiffKind.REMOVE: "- ", DiffKind.CONTEXT: "  "}.get(
            self.kind, ""
        )
        return marker + self.text


def strip_noise(obj: Any, show_noise: bool = False) -> Any:
    """A copy of `obj` without the NOISE fields (or `obj` itself when noise is wanted)."""
    if show_noise or obj is None:
        return obj
    return _without(obj, NOISE)


def _without(value: Any, patterns: tuple[tuple[str, ...], ...]) -> Any:
    if not patterns or not isinstance(value, dict | list):
        return value
    keys = value.keys() if isinstance(value, dict) else range(len(value))
    kept: dict[Any, Any] = {}
    for key in keys:
        matching = tuple(p for p in patterns if p[0] in (ANY, key))
        if any(len(p) == 1 for p in matching):
            continue
        kept[key] = _without(value[key], tuple(p[1:] for p in matching))
    return kept if isinstance(value, dict) else list(kept.values())


def unified_diff(
    old: Any,
    new: Any,
    *,
    context: int = 3,
    show_noise: bool = False,
    labels: tuple[str, str] | None = None,
) -> list[DiffLine]:
    """The YAML of `old` against `new`; unchanged runs longer than the context become `[...]`.

    `None` stands for no object (before a CREATE, after a DELETE): everything is added or
    removed. Two equal objects give no lines at all.
    """
    before = _lines_of(old, show_noise)
    after = _lines_of(new, show_noise)
    matcher = difflib.SequenceMatcher(
        None, [line.text for line in before], [line.text for line in after], autojunk=False
    )
    groups = list(matcher.get_grouped_opcodes(context))
    if all(opcode[0] == "equal" for group in groups for opcode in group):
        return []
    out = [
        DiffLine(DiffKind.HEADER, prefix + label)
        for prefix, label in zip(("--- ", "+++ "), labels or (), strict=False)
    ]
    for number, group in enumerate(groups):
        first_old = group[0][1]
        if first_old > 0 or number > 0:
            out.append(DiffLine(DiffKind.ELISION, ELISION))
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                out.extend(
                    DiffLine(DiffKind.CONTEXT, line.text, line.path) for line in before[i1:i2]
                )
                continue
            out.extend(DiffLine(DiffKind.REMOVE, line.text, line.path) for line in before[i1:i2])
            out.extend(DiffLine(DiffKind.ADD, line.text, line.path) for line in after[j1:j2])
    if groups[-1][-1][2] < len(before):
        out.append(DiffLine(DiffKind.ELISION, ELISION))
    return out


def _lines_of(obj: Any, show_noise: bool) -> list[YamlLine]:
    return [] if obj is None else yaml_lines(strip_noise(obj, show_noise))


def patch_lines(
    old: Any, new: Any, *, show_noise: bool = False, path: Callable[[str], str] | None = None
) -> list[str]:
    """The RFC 6902 patch from `old` to `new`, one operation a line with its values.

    `replace /spec/replicas: 1 -> 3`, `add /metadata/labels/tier: "web"`, `remove /spec/paused`;
    `path` shows each pointer otherwise (`field_path`: `replace spec.replicas: 1 -> 3`).
    """
    if old is None and new is None:
        return []
    if old is None:
        return ["add (whole object)"]
    if new is None:
        return ["remove (whole object)"]
    before = strip_noise(old, show_noise)
    shown = path or (lambda pointer: pointer)
    return [_patch_line(op, before, shown) for op in patch_ops(old, new, show_noise=show_noise)]


def patch_ops(old: Any, new: Any, *, show_noise: bool = False) -> list[dict[str, Any]]:
    """The RFC 6902 patch from `old` to `new` (both objects), values included."""
    before, after = strip_noise(old, show_noise), strip_noise(new, show_noise)
    return list(jsonpatch.make_patch(before, after).patch)


def _patch_line(op: dict[str, Any], before: Any, shown: Callable[[str], str]) -> str:
    kind, pointer = op["op"], op["path"]
    path = shown(pointer)
    if kind in ("move", "copy"):
        return f"{kind} {shown(op['from'])} -> {path}"
    if kind == "remove":
        return f"remove {path}: {_compact(_resolve(before, pointer))}"
    if kind == "replace":
        return f"replace {path}: {_compact(_resolve(before, pointer))} -> {_compact(op['value'])}"
    return f"{kind} {path}: {_compact(op.get('value'))}"


def _resolve(obj: Any, pointer: str) -> Any:
    try:
        return jsonpatch.JsonPointer(pointer).resolve(obj)
    except (jsonpatch.JsonPointerException, KeyError, IndexError, TypeError):
        return None


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, sort_keys=True)


def summarize_changes(changes: list[dict[str, str]], *, max_paths: int = 4) -> str:
    """A one-line summary of an event's `changes`: `spec.replicas, spec.template...image`.

    A CREATE reads `created`, a DELETE `deleted`; more than `max_paths` distinct fields end in
    `+N more`.
    """
    paths: list[str] = []
    for change in changes:
        if change.get("path") == _WHOLE_OBJECT:
            return "created" if change.get("op") == "add" else "deleted"
        short = _short_path(change.get("path", ""))
        if short not in paths:
            paths.append(short)
    shown = ", ".join(paths[:max_paths])
    hidden = len(paths) - max_paths
    return f"{shown} +{hidden} more" if hidden > 0 else shown


def _short_path(pointer: str) -> str:
    parts = _path_parts(pointer)
    if len(parts) > 3:
        return f"{parts[0]}.{parts[1]}...{parts[-1]}"
    return ".".join(parts)


def field_path(pointer: str) -> str:
    """A JSON pointer as a field path, unescaped: `/metadata/annotations/a.io~1b` reads
    `metadata.annotations[a.io/b]`, `/spec/containers/0/image` `spec.containers[0].image`;
    a key that holds a dot or a slash is bracketed, so the path still reads one way."""
    return ".".join(_path_parts(pointer, bracket=True)) if pointer else ""


def _path_parts(pointer: str, *, bracket: bool = False) -> list[str]:
    """The pointer's fields, unescaped, list indexes joined to their list as `[0]`, and with
    `bracket` the keys that hold a dot or a slash as `[a.io/b]`."""
    parts: list[str] = []
    for token in pointer.lstrip("/").split("/"):
        name = token.replace("~1", "/").replace("~0", "~")
        if (name.isdigit() and parts) or (bracket and parts and ("." in name or "/" in name)):
            parts[-1] += f"[{name}]"
        else:
            parts.append(name)
    return parts

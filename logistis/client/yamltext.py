"""Kubernetes objects as YAML text, one line at a time, each line knowing the field it shows.

The layout follows `kubectl get -o yaml`: keys sorted, two-space indentation, list items
at their parent key's indentation, multi-line strings as `|` blocks. Knowing which field
a line shows is what lets a diff name its hunks and field blame annotate each line.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from typing import Any

import yaml

FieldPath = tuple[str | int, ...]

_INDENT = 2


@dataclass(frozen=True, slots=True)
class YamlLine:
    text: str
    path: FieldPath


def yaml_lines(obj: Any) -> list[YamlLine]:
    """The object rendered as YAML lines; an empty document renders as `{}`."""
    out: list[YamlLine] = []
    if isinstance(obj, dict | list) and obj:
        _emit_children(obj, (), 0, out)
    else:
        out.append(YamlLine(_scalar(obj), ()))
    return out


def to_yaml(obj: Any) -> str:
    return "".join(line.text + "\n" for line in yaml_lines(obj))


def format_path(path: FieldPath) -> str:
    """`spec.template.spec.containers[0].image`, as kubectl explain and jsonpath spell it."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        elif "." in part or "/" in part:
            text += f"[{part!r}]"
        else:
            text += f".{part}" if text else part
    return text


def _emit_children(
    value: dict[str, Any] | list[Any], path: FieldPath, indent: int, out: list[YamlLine]
) -> None:
    if isinstance(value, dict):
        for key in sorted(value):
            _emit_entry(key, value[key], (*path, key), indent, out)
    else:
        for index, item in enumerate(value):
            _emit_item(item, (*path, index), indent, out)


def _emit_entry(key: str, value: Any, path: FieldPath, indent: int, out: list[YamlLine]) -> None:
    head = " " * indent + _scalar(key) + ":"
    if isinstance(value, dict) and value:
        out.append(YamlLine(head, path))
        _emit_children(value, path, indent + _INDENT, out)
    elif isinstance(value, list) and value:
        # kubectl's YAML puts list items at the key's own indentation.
        out.append(YamlLine(head, path))
        _emit_children(value, path, indent, out)
    else:
        _emit_value(head + " ", value, path, indent + _INDENT, out)


def _emit_item(value: Any, path: FieldPath, indent: int, out: list[YamlLine]) -> None:
    dash = " " * indent + "- "
    if isinstance(value, dict | list) and value:
        start = len(out)
        _emit_children(value, path, indent + _INDENT, out)
        # The item's first line shares the dash: `- name: nginx`.
        first = out[start]
        out[start] = YamlLine(dash + first.text[indent + _INDENT :], first.path)
    else:
        _emit_value(dash, value, path, indent + _INDENT, out)


def _emit_value(
    head: str, value: Any, path: FieldPath, block_indent: int, out: list[YamlLine]
) -> None:
    if isinstance(value, str) and "\n" in value and _fits_block(value):
        chomp = "" if value.endswith("\n") else "-"
        out.append(YamlLine(f"{head}|{chomp}", path))
        for line in value.removesuffix("\n").split("\n"):
            out.append(YamlLine(" " * block_indent + line if line else "", path))
    else:
        out.append(YamlLine(head + _scalar(value), path))


def _fits_block(text: str) -> bool:
    # A literal block cannot start with spaces (that needs an indentation indicator), end in
    # several newlines, or hold trailing spaces or tabs without changing the value.
    lines = text.removesuffix("\n").split("\n")
    return (
        not text.startswith((" ", "\t"))
        and not text.endswith("\n\n")
        and all(line == line.rstrip(" \t") for line in lines)
    )


# Strings PyYAML writes unquoted and as they are: a letter, `_` or `/` first, then only
# letters, digits, `_./-` and single inner spaces; none of YAML 1.1's words for booleans or null.
_PLAIN = re.compile(r"[A-Za-z_/](?:[A-Za-z0-9_./-]| (?=[A-Za-z0-9_./-]))*")
_RESERVED = frozenset(
    word
    for base in ("yes", "no", "true", "false", "on", "off", "null")
    for word in (base, base.capitalize(), base.upper())
)


def _scalar(value: Any) -> str:
    """One scalar as kubectl's YAML writes it.

    Objects have thousands of scalars and PyYAML's emitter costs ~20 µs each: plain strings,
    integers, booleans and null take a fast path (tested to agree with PyYAML), and what is
    left is remembered, since a diff renders most values twice.
    """
    if isinstance(value, str):  # most scalars, keys included: asked first
        plain = _PLAIN.fullmatch(value) is not None and value not in _RESERVED
        return value if plain else _dumped(type(value), value)
    if isinstance(value, dict):
        return "{}"
    if isinstance(value, list):
        return "[]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, int):
        return str(value)
    # Annotated: mypy does not count `type[Any]`, what `type()` of an Any gives, as hashable.
    kind: type = type(value)
    return _dumped(kind, value)


@functools.lru_cache(maxsize=4096)
def _dumped(kind: type, value: Any) -> str:
    # `kind` keeps 1 and 1.0 apart in the cache; they hash alike.
    del kind
    dumped = yaml.safe_dump(value, default_flow_style=True, width=float("inf"), allow_unicode=True)
    plain = dumped.removesuffix("\n").removesuffix("\n...")
    if isinstance(value, str) and plain.startswith(("'", '"')):
        # Where a string needs quotes, kubectl writes double quotes; a JSON string is one.
        return json.dumps(value, ensure_ascii=False)
    return plain

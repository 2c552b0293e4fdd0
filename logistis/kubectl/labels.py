"""`-l`: label selectors as kubectl reads them (`app=nginx`, `tier!=db`, `env in (dev,qa)`,
`env notin (prod)`, `owner`, `!owner`; requirements joined by commas, all must hold).

The history is filtered by the labels of each object's latest recorded version, so a deleted
object is found by the labels it had.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from logistis.kubectl.errors import BlameError, ExitCode

Test = Callable[[Mapping[str, str]], bool]

_KEY = r"[A-Za-z0-9]([-A-Za-z0-9_./]*[A-Za-z0-9])?"
_VALUE = r"([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?"
_SET = re.compile(rf"^({_KEY})\s+(in|notin)\s+\(([^()]*)\)$")
_EQUALS = re.compile(rf"^({_KEY})\s*(==|=|!=)\s*({_VALUE})$")
_EXISTS = re.compile(rf"^(!?)\s*({_KEY})$")
# Commas split requirements, except inside a set's parentheses.
_SPLIT = re.compile(r",(?![^()]*\))")


@dataclass(frozen=True, slots=True)
class Selector:
    text: str
    tests: tuple[Test, ...]

    def matches(self, obj: Any) -> bool:
        metadata = obj.get("metadata") if isinstance(obj, dict) else None
        labels = metadata.get("labels") if isinstance(metadata, dict) else None
        found = {str(k): str(v) for k, v in (labels or {}).items()}
        return all(test(found) for test in self.tests)


def parse_selector(text: str) -> Selector:
    parts = [part.strip() for part in _SPLIT.split(text)]
    if not text.strip() or not all(parts):
        raise _bad(text)
    return Selector(text, tuple(_requirement(part, text) for part in parts))


def _requirement(part: str, whole: str) -> Test:
    if found := _SET.match(part):
        key, op = found.group(1), found.group(3)
        values = {v.strip() for v in found.group(4).split(",") if v.strip()}
        if op == "in":
            return lambda labels: labels.get(key) in values
        return lambda labels: labels.get(key) not in values
    if found := _EQUALS.match(part):
        key, op, value = found.group(1), found.group(3), found.group(4)
        if op == "!=":
            return lambda labels: labels.get(key) != value
        return lambda labels: labels.get(key) == value
    if found := _EXISTS.match(part):
        negated, key = bool(found.group(1)), found.group(2)
        return lambda labels: (key in labels) != negated
    raise _bad(whole)


def _bad(text: str) -> BlameError:
    return BlameError(
        f"-l: {text!r} is not a label selector (app=nginx, tier!=db, env in (dev,qa), owner, !owner)",
        ExitCode.USAGE,
    )

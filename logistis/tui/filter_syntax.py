"""The filter bar's little language: `user:alice kind:Deployment ns:team-a since:2h nginx`.

`key:value` words set a filter, anything else is free text (`q`). The people/everything
choice is not part of it: that is a view, toggled with its own key.
"""

from __future__ import annotations

import difflib
from typing import Any

from logistis.client.events import ACTOR_KINDS, MANAGING_TOOLS, TOOLS, EventFilter
from logistis.client.timeparse import BadTime, parse_time

CLUSTER_SCOPED = "-"
OPERATIONS = ("CREATE", "UPDATE", "DELETE", "CONNECT")
# Accepted keys, the short ones kubectl users type first.
KEYS: dict[str, str] = {
    "ns": "namespace",
    "namespace": "namespace",
    "kind": "kind",
    "group": "group",
    "name": "name",
    "user": "user",
    "op": "operation",
    "operation": "operation",
    "since": "since",
    "until": "until",
    # Who acted and what manages the object (docs/api.md).
    "hand": "handEdit",
    "actor": "actor",
    "tool": "tool",
    "managed": "managedBy",
}
SHORT = {"namespace": "ns", "operation": "op", "q": "", "handEdit": "hand", "managedBy": "managed"}
# The filters whose values are one of a few, and those values; checked before they are sent.
CHOICES: dict[str, tuple[str, ...]] = {
    "operation": OPERATIONS,
    "handEdit": ("true", "false"),
    "actor": ACTOR_KINDS,
    "tool": TOOLS,
    "managedBy": MANAGING_TOOLS,
}
WHAT = {
    "operation": "an operation",
    "handEdit": "true or false",
    "actor": "a kind of actor",
    "tool": "a tool",
    "managedBy": "a managing tool",
}
# Python's names of the API's filters (EventFilter's fields).
FIELDS = {"handEdit": "hand_edit", "managedBy": "managed_by"}


class FilterSyntaxError(ValueError):
    pass


def parse(text: str, *, people: bool | None) -> EventFilter:
    """The filter `text` says; what the collector would refuse is refused here first, with a
    reason fit for the filter bar."""
    # By EventFilter's field names, which are known only as the words are read: Any, as
    # mypy cannot match a dict's values to the fields its keys name.
    values: dict[str, Any] = {}
    words: list[str] = []
    for word in text.split():
        key, sep, value = word.partition(":")
        if not sep or key.lower() not in KEYS:
            _check_not_a_key(key, sep)
            words.append(word)
            continue
        if not value:
            raise FilterSyntaxError(f"{key}: needs a value, e.g. {key}:something")
        field = KEYS[key.lower()]
        values[FIELDS.get(field, field)] = _value(field, value)
    if words:
        values["q"] = " ".join(words)
    return EventFilter(people=people, **values)


def _check_not_a_key(key: str, sep: str) -> None:
    """A word like `usr:alice` is a mistyped key, not text to search for (text with other
    colons, `app.kubernetes.io/name:web`, is searched as typed)."""
    if sep and key.isalpha():
        near = difflib.get_close_matches(key.lower(), KEYS, n=1)
        hint = f"did you mean {near[0]}:? " if near else ""
        raise FilterSyntaxError(f"{key}: is not a filter ({hint}filters: {', '.join(KEYS)})")


def _value(field: str, value: str) -> str | bool:
    if field == "namespace" and value == CLUSTER_SCOPED:
        return ""
    if field in CHOICES:
        return _choice(field, value)
    if field in ("since", "until"):
        try:
            parse_time(value)
        except (BadTime, OverflowError) as error:
            raise FilterSyntaxError(f"{field}:{value}: {error}") from None
    return value


def _choice(field: str, value: str) -> str | bool:
    """One of the filter's few values, in the case the collector takes (`op:update` is
    UPDATE, `hand:true` a boolean)."""
    choices = CHOICES[field]
    chosen = value.upper() if field == "operation" else value.lower()
    if chosen not in choices:
        key = SHORT.get(field, field)
        raise FilterSyntaxError(f"{key}:{value} is not {WHAT[field]} ({', '.join(choices)})")
    return chosen == "true" if field == "handEdit" else chosen


def unparse(filter: EventFilter) -> str:
    words = []
    for name, value in filter.active():
        shown = CLUSTER_SCOPED if name == "namespace" and value == "" else value
        key = SHORT.get(name, name)
        words.append(f"{key}:{shown}" if key else shown)
    return " ".join(words)

"""The filter bar's little language: `user:alice kind:Deployment ns:team-a since:2h nginx`.

`key:value` words set a filter, anything else is free text (`q`). The people/everything
choice is not part of it: that is a view, toggled with its own key.
"""

from __future__ import annotations

import difflib

from logistis.tui.core.events import EventFilter
from logistis.tui.core.timeparse import BadTime, parse_time

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
}
SHORT = {"namespace": "ns", "operation": "op", "q": ""}
CLUSTER_SCOPED = "-"
OPERATIONS = ("CREATE", "UPDATE", "DELETE", "CONNECT")


class FilterSyntaxError(ValueError):
    pass


def parse(text: str, *, people: bool | None) -> EventFilter:
    """The filter `text` says; what the collector would refuse is refused here first, with a
    reason fit for the filter bar."""
    values: dict[str, str] = {}
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
        values[field] = _value(field, value)
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


def _value(field: str, value: str) -> str:
    if field == "namespace" and value == CLUSTER_SCOPED:
        return ""
    if field == "operation":
        if value.upper() not in OPERATIONS:
            raise FilterSyntaxError(f"op:{value} is not an operation ({', '.join(OPERATIONS)})")
        return value.upper()
    if field in ("since", "until"):
        try:
            parse_time(value)
        except (BadTime, OverflowError) as error:
            raise FilterSyntaxError(f"{field}:{value}: {error}") from None
    return value


def unparse(filter: EventFilter) -> str:
    words = []
    for name, value in filter.active():
        shown = CLUSTER_SCOPED if name == "namespace" and value == "" else value
        key = SHORT.get(name, name)
        words.append(f"{key}:{shown}" if key else shown)
    return " ".join(words)

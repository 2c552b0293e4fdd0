"""The filter bar's little language: `user:alice kind:Deployment ns:team-a since:2h nginx`.

`key:value` words set a filter, anything else is free text (`q`). The people/everything
choice is not part of it: that is a view, toggled with its own key.
"""

from __future__ import annotations

from logistis.tui.core.events import EventFilter

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


class FilterSyntaxError(ValueError):
    pass


def parse(text: str, *, people: bool | None) -> EventFilter:
    values: dict[str, str] = {}
    words: list[str] = []
    for word in text.split():
        key, sep, value = word.partition(":")
        if not sep or key.lower() not in KEYS:
            words.append(word)
            continue
        if not value:
            raise FilterSyntaxError(f"{key}: needs a value, e.g. {key}:something")
        field = KEYS[key.lower()]
        values[field] = "" if field == "namespace" and value == CLUSTER_SCOPED else value
    if words:
        values["q"] = " ".join(words)
    return EventFilter(people=people, **values)


def unparse(filter: EventFilter) -> str:
    words = []
    for name, value in filter.active():
        shown = CLUSTER_SCOPED if name == "namespace" and value == "" else value
        key = SHORT.get(name, name)
        words.append(f"{key}:{shown}" if key else shown)
    return " ".join(words)

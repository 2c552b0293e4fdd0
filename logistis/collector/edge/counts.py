"""The query API's JSON of what the store counts: the namespaces overview, the facets and the
insights (docs/api.md). The store hands over values; their shape on the wire is written here."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from logistis.collector.history.events import UserInfo, format_time
from logistis.collector.history.insights import insights_json, marks_json
from logistis.collector.store.aggregates import (
    Facets,
    Insights,
    KindCount,
    NamespaceCount,
    Ranked,
    ValueCount,
)

JSON = dict[str, Any]


def namespace_json(counted: NamespaceCount) -> JSON:
    last_time = counted.last_time
    return {
        "namespace": counted.namespace,
        "count": counted.count,
        "lastTime": format_time(last_time) if last_time else None,
        "lastUser": counted.last_user,
        "handEdits": counted.hand_edits,
        "kinds": [_kind_json(kind) for kind in counted.kinds],
    }


def facets_json(facets: Facets) -> JSON:
    return {
        "total": facets.total,
        "users": [
            {"value": u.value, "count": u.count, "machine": UserInfo(u.value).is_machine}
            for u in facets.users
        ],
        "kinds": [_kind_json(kind) for kind in facets.kinds],
        "namespaces": [_value_json(value) for value in facets.namespaces],
        "operations": [_value_json(value) for value in facets.operations],
    }


def insights_answer(found: Insights) -> JSON:
    tops = {
        "topPeople": _ranked_json(("user",), found.people),
        "topNamespaces": _ranked_json(("namespace",), found.namespaces),
        "topKinds": _ranked_json(("group", "resource", "kind"), found.kinds),
        "topObjects": _ranked_json(
            ("group", "resource", "kind", "namespace", "name"), found.objects
        ),
    }
    return insights_json(found.activity, tops, marks_json(found.marks))


def _kind_json(kind: KindCount) -> JSON:
    return {"group": kind.group, "kind": kind.kind, "resource": kind.resource, "count": kind.count}


def _value_json(value: ValueCount) -> JSON:
    return {"value": value.value, "count": value.count}


def _ranked_json(names: Sequence[str], ranked: Sequence[Ranked]) -> list[JSON]:
    """A top list: its columns under the API's names, then its count."""
    return [
        {**dict(zip(names, entry.values, strict=True)), "count": entry.count} for entry in ranked
    ]

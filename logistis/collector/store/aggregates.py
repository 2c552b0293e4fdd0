"""The namespaces overview and the facets as the API serves them, from the rows both stores'
aggregate queries return."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from logistis.collector.history.events import UserInfo, format_time, time_from_ms

Rows = Iterable[Sequence[Any]]


def namespaces_json(counts: Rows, kind_rows: Rows, hand_edit_rows: Rows) -> list[dict[str, Any]]:
    """counts: (namespace, count, last time_ms, last user); kind_rows: (namespace, group, kind,
    resource, count), each namespace's kinds most recorded first; hand_edit_rows: (namespace,
    hand edits kept)."""
    hand_edits = {namespace: count for namespace, count in hand_edit_rows}
    kinds: dict[str, list[dict[str, Any]]] = {}
    for namespace, grp, kind, resource, count in kind_rows:
        kinds.setdefault(namespace, []).append(
            {"group": grp, "kind": kind, "resource": resource, "count": count}
        )
    return [
        {
            "namespace": namespace,
            "count": count,
            "lastTime": format_time(time_from_ms(last_time)) if last_time else None,
            "lastUser": last_user or "",
            "handEdits": hand_edits.get(namespace, 0),
            "kinds": kinds.get(namespace, []),
        }
        for namespace, count, last_time, last_user in counts
    ]


def facets_json(users: Rows, kinds: Rows, namespaces: Rows, operations: Rows) -> dict[str, Any]:
    """Each facet's (value..., count) rows, most counted first."""
    users = list(users)
    return {
        "total": sum(n for _, n in users),
        "users": [{"value": u, "count": n, "machine": UserInfo(u).is_machine} for u, n in users],
        "kinds": [{"group": g, "kind": k, "resource": r, "count": n} for g, r, k, n in kinds],
        "namespaces": [{"value": v, "count": n} for v, n in namespaces],
        "operations": [{"value": v, "count": n} for v, n in operations],
    }

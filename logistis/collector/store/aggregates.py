"""The namespaces overview, the facets and the insights, from the rows both stores' aggregate
queries return.

Counts, not JSON: the API writes them in its own shape (`collector/edge/api.py`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from logistis.collector.history.events import time_from_ms
from logistis.collector.history.insights import Activity

Rows = Iterable[Sequence[Any]]


@dataclass(frozen=True, slots=True)
class KindCount:
    group: str
    kind: str
    resource: str
    count: int


@dataclass(frozen=True, slots=True)
class NamespaceCount:
    """One namespace of the overview: its events, its newest one, its kinds most recorded
    first."""

    namespace: str
    count: int
    last_time: datetime | None
    last_user: str
    hand_edits: int
    kinds: list[KindCount]


@dataclass(frozen=True, slots=True)
class ValueCount:
    value: str
    count: int


@dataclass(frozen=True, slots=True)
class Facets:
    """Each facet's values, most counted first."""

    users: list[ValueCount]
    kinds: list[KindCount]
    namespaces: list[ValueCount]
    operations: list[ValueCount]

    @property
    def total(self) -> int:
        """The events counted: each has one user."""
        return sum(user.count for user in self.users)


@dataclass(frozen=True, slots=True)
class Ranked:
    """One entry of a top list: the values of its columns, and its events."""

    values: tuple[Any, ...]
    count: int


@dataclass(frozen=True, slots=True)
class Insights:
    """What `/api/v1/insights` shows of the events a query selects (collector/history/insights.py):
    their activity, the top lists and the trust marks."""

    activity: Activity
    people: list[Ranked]
    """By user name."""
    namespaces: list[Ranked]
    kinds: list[Ranked]
    """By group, resource and kind."""
    objects: list[Ranked]
    """By group, resource, kind, namespace and name."""
    marks: list[tuple[str | None, bool | None, int]]
    """(continuity, applied, events) of the kept judgements: what is not counted is usual."""


def namespace_counts(counts: Rows, kind_rows: Rows, hand_edit_rows: Rows) -> list[NamespaceCount]:
    """counts: (namespace, count, last time_ms, last user); kind_rows: (namespace, group, kind,
    resource, count), each namespace's kinds most recorded first; hand_edit_rows: (namespace,
    hand edits kept)."""
    hand_edits = {namespace: count for namespace, count in hand_edit_rows}
    kinds: dict[str, list[KindCount]] = {}
    for namespace, grp, kind, resource, count in kind_rows:
        kinds.setdefault(namespace, []).append(KindCount(grp, kind, resource, count))
    return [
        NamespaceCount(
            namespace,
            count,
            time_from_ms(last_time) if last_time else None,
            last_user or "",
            hand_edits.get(namespace, 0),
            kinds.get(namespace, []),
        )
        for namespace, count, last_time, last_user in counts
    ]


def facets(users: Rows, kinds: Rows, namespaces: Rows, operations: Rows) -> Facets:
    """Each facet's (value..., count) rows, most counted first."""
    return Facets(
        [ValueCount(u, n) for u, n in users],
        [KindCount(g, k, r, n) for g, r, k, n in kinds],
        [ValueCount(v, n) for v, n in namespaces],
        [ValueCount(v, n) for v, n in operations],
    )

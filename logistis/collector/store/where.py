"""An event query as one SQL WHERE clause, in the dialect of the store that runs it.

The clauses differ between the stores only where their SQL does (case-insensitive comparison,
glob patterns): each store's SQL module has a `Dialect`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from logistis.collector.history.events import MACHINE_PREFIX, time_to_ms
from logistis.collector.history.query import EventQuery

# What `q` searches: the columns of the user, namespace, name, kind and field manager.
TEXT_COLUMNS = ("username", "namespace", "name", "kind", "field_manager")
# Who acted and what manages the object are kept beside the events
# (collector/history/provenance.py):
# an event matches when its row does. An event the deriver has not reached has none yet.
_PROVENANCE = "EXISTS (SELECT 1 FROM provenance AS p WHERE p.id = events.id AND {test})"


@dataclass(frozen=True, slots=True)
class Dialect:
    """The filter clauses one store writes in its own SQL, with `?` for each parameter."""

    kind: str
    """One kind (case-insensitive) or resource name: two parameters, the same value twice."""
    user_glob: str
    """The user name against one pattern in which only `*` is a wildcard."""
    glob: Callable[[str], str]
    """A user pattern as `user_glob` takes it."""
    text: str
    """`{column}` contains the text, case-insensitively (ASCII letters only, as SQLite's
    `lower`), every character literal (no wildcards): one parameter, the text as given."""
    text_found: str = ""
    """Optional: true of every event when any stored value of the searched columns contains
    the text, of none when no value does (one parameter), so that a store can skip reading its
    events when none does."""


def where_clause(
    query: EventQuery, dialect: Dialect, extra: Iterable[tuple[str, list[object]]] = ()
) -> tuple[str, list[object]]:
    """One WHERE clause for the query in the store's dialect, with `?` for each parameter."""
    clauses: list[tuple[str, list[object]]] = [
        _any_of("namespace = ?", query.namespaces),
        _any_of(dialect.kind, query.kinds, repeat=2),
        _any_of("grp = ?", query.groups),
        _any_of("name = ?", query.names),
        _users(dialect, query.users),
        _any_of("operation = ?", query.operations),
    ]
    if query.namespaced:
        clauses.append(("namespace != ?", [""]))
    if query.event_id is not None:
        clauses.append(("id = ?", [query.event_id]))
    if query.people:
        clauses.append(("substr(username, 1, 7) != ?", [MACHINE_PREFIX]))
    if query.since:
        clauses.append(("time_ms >= ?", [time_to_ms(query.since)]))
    if query.until:
        clauses.append(("time_ms < ?", [time_to_ms(query.until)]))
    if query.text:
        text_sql = " OR ".join(dialect.text.format(column=c) for c in TEXT_COLUMNS)
        clauses.append((dialect.text_found, [query.text] if dialect.text_found else []))
        clauses.append((f"({text_sql})", [query.text] * len(TEXT_COLUMNS)))
    clauses.extend(_provenance(query))
    clauses.extend(extra)
    used = [(sql, params) for sql, params in clauses if sql]
    if not used:
        return "", []
    return "WHERE " + " AND ".join(sql for sql, _ in used), [p for _, ps in used for p in ps]


def _provenance(query: EventQuery) -> list[tuple[str, list[object]]]:
    clauses = [
        _any_of("p.actor = ?", query.actors),
        _any_of("p.tool = ?", query.tools),
        _any_of("p.managed_tool = ?", query.managed_by),
    ]
    if query.hand_edit:
        clauses.append(("p.hand_edit = ?", [True]))
    tested = [(sql, params) for sql, params in clauses if sql]
    found = []
    if tested:
        test = " AND ".join(sql for sql, _ in tested)
        found.append((_PROVENANCE.format(test=test), [p for _, ps in tested for p in ps]))
    if query.hand_edit is False:
        found.append(("NOT " + _PROVENANCE.format(test="p.hand_edit = ?"), [True]))
    return found


def _users(dialect: Dialect, patterns: tuple[str, ...]) -> tuple[str, list[object]]:
    # An exact name compares with `=`: the store then walks events_by_user newest first and
    # stops at the end of the page, where a pattern is a range scan that sorts every event of
    # the user.
    if not patterns:
        return "", []
    globs = ["*" in p or "[" in p for p in patterns]
    tests = [dialect.user_glob if glob else "username = ?" for glob in globs]
    params: list[object] = [
        dialect.glob(p) if glob else p for p, glob in zip(patterns, globs, strict=True)
    ]
    return "(" + " OR ".join(tests) + ")", params


def _any_of(sql: str, values: tuple[str, ...], *, repeat: int = 1) -> tuple[str, list[object]]:
    if not values:
        return "", []
    return "(" + " OR ".join([sql] * len(values)) + ")", [v for v in values for _ in range(repeat)]

"""The SQLite store's aggregates, counted once per statement that adds or removes events.

A commit group (or a chunk `migrate-store` copies) and a retention DELETE hand their events
here inside their own transaction. What they change in `stats`, `resources` and
`search_values` is summed in Python, signed, and written with one statement per changed row:
a row whose count does not move is not written at all, as when a group trims the resources it
pushed past their limit by as many events as it added to them (in a full store, most groups).
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

import orjson

from logistis.collector.store import insight_counts
from logistis.collector.store import sqlite_sql as sql
from logistis.collector.store.rows import COLUMNS, USER_JSON
from logistis.collector.store.where import TEXT_COLUMNS

# An event as the aggregates see it: its `sql.COUNTED` columns (text, and time_ms an int).
Counted = tuple[Any, ...]

# A stored row (the id, then an encoded row's columns) as its counted columns.
_counted_of_row = itemgetter(*(1 + COLUMNS.index(column) for column in sql.COUNTED))
_stats_key = itemgetter(*(sql.COUNTED.index(column) for column in sql.STATS_KEY))
_resources_key = itemgetter(*(sql.COUNTED.index(column) for column in sql.RESOURCES_KEY))
_SEARCHED = tuple((column, sql.COUNTED.index(column)) for column in TEXT_COLUMNS)
_NAMESPACE, _TIME = sql.COUNTED.index("namespace"), sql.COUNTED.index("time_ms")
_USER = sql.COUNTED.index("username")
_kind = itemgetter(*(sql.COUNTED.index(column) for column in sql.KINDS_KEY[2:]))


@dataclass(slots=True)
class Tally:
    """Signed counts by aggregate row: what some events add to or take from each table."""

    stats: Counter[tuple[Any, ...]] = field(default_factory=Counter)
    resources: Counter[tuple[Any, ...]] = field(default_factory=Counter)
    search_values: Counter[tuple[Any, ...]] = field(default_factory=Counter)
    activity: Counter[tuple[Any, ...]] = field(default_factory=Counter)
    users: Counter[tuple[Any, ...]] = field(default_factory=Counter)
    kinds: Counter[tuple[Any, ...]] = field(default_factory=Counter)

    def count(self, events: Iterable[Counted], sign: int) -> None:
        for event in events:
            self.stats[_stats_key(event)] += sign
            self.resources[_resources_key(event)] += sign
            for column, position in _SEARCHED:
                self.search_values[column, event[position]] += sign
            self._count_insights(event, sign)

    def _count_insights(self, event: Counted, sign: int) -> None:
        # Who acted is counted with the provenance rows, by triggers (sqlite_schema, step 11).
        time_ms, namespace = event[_TIME], event[_NAMESPACE]
        for grain, start in insight_counts.starts(time_ms, insight_counts.ALL_GRAINS):
            self.activity[grain, insight_counts.ALL, start, insight_counts.EVERY] += sign
        for grain, start in insight_counts.starts(time_ms, insight_counts.NAMESPACE_GRAINS):
            self.activity[grain, namespace, start, insight_counts.EVERY] += sign
        for grain, start in insight_counts.starts(time_ms, insight_counts.TOPS_GRAINS):
            self.users[grain, start, event[_USER]] += sign
            self.kinds[(grain, start, *_kind(event))] += sign

    def write(self, connection: sqlite3.Connection) -> None:
        for counts, add, drop_empty in (
            (self.stats, sql.ADD_STATS, sql.DROP_EMPTY_STATS),
            (self.resources, sql.ADD_RESOURCES, sql.DROP_EMPTY_RESOURCES),
            (self.search_values, sql.ADD_SEARCH_VALUES, sql.DROP_EMPTY_SEARCH_VALUES),
            (self.activity, sql.ADD_ACTIVITY, sql.DROP_EMPTY_ACTIVITY),
            (self.users, sql.ADD_USERS, sql.DROP_EMPTY_USERS),
            (self.kinds, sql.ADD_KINDS, sql.DROP_EMPTY_KINDS),
        ):
            if changed := [(*key, n) for key, n in counts.items() if n]:
                connection.executemany(add, changed)
            if emptied := [key for key, n in counts.items() if n < 0]:
                connection.executemany(drop_empty, emptied)


def count_in(connection: sqlite3.Connection, rows: Sequence[Sequence[Any]]) -> None:
    """Count in events just inserted (stored rows: the id, then an encoded row), and trim
    each resource they took past the per-resource limit, its oldest events first."""
    tally = Tally()
    tally.count(map(_counted_of_row, rows), 1)
    added = list(tally.resources.items())
    wanted = orjson.dumps([[*key, count] for key, count in added]).decode()
    removed: list[Counted] = []
    for position, over in connection.execute(sql.SELECT_OVER_LIMIT, (wanted,)).fetchall():
        key = added[position][0]
        removed += connection.execute(sql.DELETE_OLDEST_OF_RESOURCE, (*key, over)).fetchall()
    tally.count(removed, -1)
    tally.write(connection)
    newest: dict[str, int] = {}
    for row in rows:
        identity = row[1 + USER_JSON]
        newest[identity] = max(newest.get(identity, 0), row[0])
    connection.executemany(sql.SET_LAST_EVENT, [(i, json) for json, i in newest.items()])


def count_out(connection: sqlite3.Connection, removed: Iterable[Counted]) -> None:
    """Count out the events a DELETE removed (the columns it returned: `sql.COUNTED`)."""
    tally = Tally()
    tally.count(removed, -1)
    tally.write(connection)

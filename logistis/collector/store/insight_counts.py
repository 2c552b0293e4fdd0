"""The insights' counts per time bucket, kept beside the events in the transaction that adds or
removes them, so that `/api/v1/insights` reads a few thousand counts where the events are
millions (collector/store/queries.py).

Each table has a row per bucket of a grain (a minute, an hour, a day, aligned to the epoch):

- `insight_activity`: the events of the bucket (`actor` ''), and those the deriver has found
  an actor for, per kind of actor (`actor`: its kind, `hand_edits`: how many were hand edits),
  by the minute and the hour for all namespaces (`namespace` `ALL`), by the hour for each
  namespace, and by the day for each namespace (the events only: the top namespaces). The
  events are counted with the events, who acted with their provenance rows.
- `insight_users` and `insight_kinds`: the events of all namespaces per user and per kind, by
  the hour and the day.

Counting every namespace's minutes, or users and kinds, would keep about a row per event: the
reads of one namespace count its events themselves for what they need beyond its hours.

A span is read as tiles (`tiles`): whole units of the coarsest grain in the middle, finer ones
toward the edges, and the events themselves for what is left at both ends, so every count is
exact: the same events `/api/v1/events` lists for the same filters.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from logistis.collector.history.query import EventQuery
from logistis.collector.store.aggregates import Ranked

MINUTE_MS = 60_000
HOUR_MS = 60 * MINUTE_MS
DAY_MS = 24 * HOUR_MS
# The scope of the rows that count every namespace (no namespace name holds a `*`).
ALL = "*"
# The kind of actor of the rows counting every event of a bucket, derived or not.
EVERY = ""
# The grains of the activity counted for all namespaces, and for each one.
ALL_GRAINS = (HOUR_MS, MINUTE_MS)
NAMESPACE_GRAINS = (DAY_MS, HOUR_MS)
# Who acted is read with the activity only, by the minute or the hour.
NAMESPACE_ACTOR_GRAINS = (HOUR_MS,)
# Users and kinds, for all namespaces.
TOPS_GRAINS = (DAY_MS, HOUR_MS)

# A span of more events than this has its top objects found from the objects' kept counts
# (queries.SQLQueries._busiest_objects): a page of objects at a time, some pages at most.
MANY = 50_000
OBJECTS_PAGE = 50
OBJECTS_READ = 500

Tile = tuple[int | None, int, int]
"""(grain, or None for the events themselves; start ms; end ms)."""


def tiles(since_ms: int, until_ms: int, grains: Sequence[int]) -> list[Tile]:
    """[since, until) as the whole units of the first grain it holds, the rest toward each edge
    as units of the next grains, and what no grain covers (at most a unit of the finest at
    each end) as spans of events."""
    if since_ms >= until_ms:
        return []
    if not grains:
        return [(None, since_ms, until_ms)]
    grain, finer = grains[0], grains[1:]
    start, end = -(-since_ms // grain) * grain, until_ms // grain * grain
    if start >= end:
        return tiles(since_ms, until_ms, finer)
    return [*tiles(since_ms, start, finer), (grain, start, end), *tiles(end, until_ms, finer)]


def covers(query: EventQuery) -> bool:
    """Whether the counts answer the query: a span of time, and namespaces named exactly, at
    most. Any other filter is answered from the events."""
    bare = EventQuery(namespaces=query.namespaces, since=query.since, until=query.until)
    return query == bare


def activity_grains(query: EventQuery, unit_ms: int) -> tuple[tuple[str, ...], tuple[int, ...]]:
    """The scopes and grains of the activity counts that answer the query by units of
    `unit_ms` (none: from the events)."""
    if query.namespaces:
        return query.namespaces, NAMESPACE_ACTOR_GRAINS if unit_ms % HOUR_MS == 0 else ()
    return (ALL,), ALL_GRAINS if unit_ms % HOUR_MS == 0 else (MINUTE_MS,)


def starts(time_ms: int, grains: Sequence[int]) -> Iterator[tuple[int, int]]:
    """(grain, bucket start) of each grain's bucket holding the moment."""
    for grain in grains:
        yield grain, time_ms - time_ms % grain


def partitioned(rows: Iterable[Sequence[Any]]) -> list[tuple[int, str | None, int, int]]:
    """Counted rows of (unit, actor or EVERY, events, hand edits) as the events' own rows give
    them: each event once, under its actor, or None while the deriver has not reached it."""
    every: Counter[int] = Counter()
    derived: list[tuple[int, str | None, int, int]] = []
    for unit, actor, count, hand_edits in rows:
        if actor == EVERY:
            every[int(unit)] += int(count)
        else:
            derived.append((int(unit), actor, int(count), int(hand_edits)))
            every[int(unit)] -= int(count)
    return [*derived, *((unit, None, n, 0) for unit, n in every.items() if n)]


def ranked(rows: Iterable[Sequence[Any]], top: int) -> list[Ranked]:
    """A top list from rows of (value..., events) of several tiles: each group's events summed,
    most first, ties by their values' bytes (as insights_sql.TOP orders them)."""
    summed: Counter[tuple[Any, ...]] = Counter()
    for row in rows:
        summed[tuple(row[:-1])] += int(row[-1])
    order = sorted(
        ((values, n) for values, n in summed.items() if n > 0),
        key=lambda item: (-item[1], [str(v).encode() for v in item[0]]),
    )
    return [Ranked(values, n) for values, n in order[:top]]

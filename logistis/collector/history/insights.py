"""The shape of the activity (`GET /api/v1/insights`): counts over time, top lists, busy hours.

The store counts the events that match the query in a few grouped statements (per time unit
and kind of actor, per user, namespace, kind and object, per trust mark); this module picks
the bucket, rolls the units up into buckets and into the weekday x hour map, and writes the
JSON. Every count is of the same events `/api/v1/events` lists for the same filters.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from logistis.collector.history.actors import KINDS
from logistis.collector.history.events import format_time, time_from_ms, time_to_ms
from logistis.collector.history.query import QueryError
from logistis.collector.units import parse_duration

MINUTE_MS = 60_000
HOUR_MS = 60 * MINUTE_MS
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# From the span when no bucket is asked for: the finest that gives at most `_AIM` buckets.
_LADDER_MS = tuple(
    m * MINUTE_MS for m in (1, 5, 15, 60, 3 * 60, 6 * 60, 24 * 60, 7 * 24 * 60, 30 * 24 * 60)
)
_AIM = 120
MAX_BUCKETS = 2000
DEFAULT_TOP = 10
MAX_TOP = 100
# Continuity marks worth counting: the usual one (`continuous`, applied) is what is left.
MARKS = ("first", "gap", "expected")


@dataclass(frozen=True, slots=True)
class Window:
    """The events of [since, until), in buckets of `bucket_ms` from `start_ms` (the bucket
    boundary at or before `since`), counted by the store per `unit_ms`."""

    since: datetime
    until: datetime
    start_ms: int
    bucket_ms: int

    @property
    def unit_ms(self) -> int:
        # Divides both the bucket and the hour: units roll up into either exactly.
        return math.gcd(self.bucket_ms, HOUR_MS)

    def starts(self) -> range:
        return range(self.start_ms, time_to_ms(self.until), self.bucket_ms)


def bucket_ms(raw: str | None) -> int | None:
    """The `bucket` parameter as milliseconds (a duration: `15m`, `1h`, `1d`), or None."""
    if raw is None:
        return None
    try:
        value = int(parse_duration(raw) / timedelta(milliseconds=1))
    except ValueError:
        raise QueryError("bucket", "must be a duration like 5m, 1h or 1d") from None
    # Whole minutes: the store's units (see `Window.unit_ms`) are then a minute at least.
    if value <= 0 or value % MINUTE_MS:
        raise QueryError("bucket", "must be a whole number of minutes")
    return value


def at_ms(ms: int) -> datetime:
    """A time in whole milliseconds, as a client reads it back from `format_time`."""
    return _EPOCH + timedelta(milliseconds=ms)


def window(since: datetime, until: datetime, asked_ms: int | None) -> Window:
    """The buckets from the one holding `since` up to `until`, aligned to the epoch; both
    times in whole milliseconds, as they are reported."""
    since, until = at_ms(time_to_ms(since)), at_ms(time_to_ms(until))
    until = max(until, since + timedelta(milliseconds=1))
    since_ms, until_ms = time_to_ms(since), time_to_ms(until)
    span = until_ms - since_ms
    size = asked_ms or next((b for b in _LADDER_MS if span / b <= _AIM), _LADDER_MS[-1])
    chosen = Window(since, until, since_ms - since_ms % size, size)
    if len(chosen.starts()) > MAX_BUCKETS:
        raise QueryError("bucket", f"gives more than {MAX_BUCKETS} buckets over this span")
    return chosen


def top_count(raw: str | None) -> int:
    if raw is None:
        return DEFAULT_TOP
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= MAX_TOP:
        raise QueryError("top", f"must be a whole number from 1 to {MAX_TOP}")
    return int(raw)


@dataclass(slots=True)
class Activity:
    """Counts per bucket (and per weekday x hour) built from the store's per-unit rows."""

    window: Window
    counts: dict[int, int] = field(default_factory=dict)
    by_actor: dict[int, dict[str, int]] = field(default_factory=dict)
    hand_edits: dict[int, int] = field(default_factory=dict)
    hours: list[list[int]] = field(default_factory=lambda: [[0] * 24 for _ in range(7)])

    def add(self, rows: Iterable[Sequence[Any]]) -> None:
        """Rows of (unit number, actor kind or None, events, hand edits)."""
        size, unit = self.window.bucket_ms, self.window.unit_ms
        for number, actor, count, hand_edits in rows:
            start_ms = int(number) * unit
            bucket = start_ms - start_ms % size
            self.counts[bucket] = self.counts.get(bucket, 0) + int(count)
            self.hand_edits[bucket] = self.hand_edits.get(bucket, 0) + int(hand_edits or 0)
            if actor is not None:
                actors = self.by_actor.setdefault(bucket, dict.fromkeys(KINDS, 0))
                actors[actor] += int(count)
            moment = time_from_ms(start_ms)
            self.hours[moment.weekday()][moment.hour] += int(count)

    def buckets(self) -> list[dict[str, Any]]:
        return [
            {
                "start": format_time(time_from_ms(start)),
                "count": self.counts.get(start, 0),
                "byActor": self.by_actor.get(start, dict.fromkeys(KINDS, 0)),
                "handEdits": self.hand_edits.get(start, 0),
            }
            for start in self.window.starts()
        ]

    def totals(self) -> dict[str, int]:
        totals = dict.fromkeys(KINDS, 0)
        for actors in self.by_actor.values():
            for kind, count in actors.items():
                totals[kind] += count
        return totals


def marks_json(rows: Iterable[Sequence[Any]]) -> dict[str, int]:
    """Rows of (continuity, applied, events) from the kept judgements."""
    marks = dict.fromkeys((*MARKS, "notApplied"), 0)
    for continuity, applied, count in rows:
        if continuity in MARKS:
            marks[continuity] += int(count)
        if applied is not None and not applied:
            marks["notApplied"] += int(count)
    return marks


def insights_json(
    activity: Activity, tops: dict[str, list[dict[str, Any]]], marks: dict[str, int]
) -> dict[str, Any]:
    return {
        "since": format_time(activity.window.since),
        "until": format_time(activity.window.until),
        "bucketSeconds": activity.window.bucket_ms / 1000,
        "total": sum(activity.counts.values()),
        "byActor": activity.totals(),
        "handEdits": sum(activity.hand_edits.values()),
        "marks": marks,
        "buckets": activity.buckets(),
        **tops,
        "busiestHours": activity.hours,
    }

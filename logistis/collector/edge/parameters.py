"""The event filters of the API, parsed from query parameters.

Parsing is strict: an unknown parameter or a malformed value raises `QueryError` naming it,
which the HTTP edge answers with a 400.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime

from logistis.collector.history.actors import KINDS, TOOLS
from logistis.collector.history.events import OPERATIONS
from logistis.collector.history.gitops import MANAGING_TOOLS
from logistis.collector.history.query import (
    DEFAULT_LIMIT,
    FILTERS,
    MAX_LIMIT,
    EventQuery,
    Page,
    QueryError,
    decode_cursor,
    whole_number,
)
from logistis.collector.units import parse_duration


def parse_query(
    params: Iterable[tuple[str, str]], *, allowed: tuple[str, ...] = FILTERS
) -> dict[str, list[str]]:
    """Group parameters by name, refusing any that is not allowed here."""
    grouped: dict[str, list[str]] = {}
    for key, value in params:
        if key not in allowed:
            raise QueryError(key, f"unknown parameter (allowed: {', '.join(allowed)})")
        grouped.setdefault(key, []).append(value)
    return grouped


def event_query(grouped: dict[str, list[str]], now: datetime | None = None) -> EventQuery:
    now = now or datetime.now(UTC)
    return EventQuery(
        namespaces=tuple(grouped.get("namespace", ())),
        kinds=tuple(grouped.get("kind", ())),
        groups=tuple("" if g == "core" else g for g in grouped.get("group", ())),
        names=tuple(grouped.get("name", ())),
        users=tuple(_user_pattern(u) for u in grouped.get("user", ())),
        operations=tuple(_operation(o) for o in grouped.get("operation", ())),
        people=_boolean("people", single(grouped, "people") or "false"),
        since=_time("since", single(grouped, "since"), now),
        until=_time("until", single(grouped, "until"), now),
        text=single(grouped, "q") or "",
        actors=tuple(_one_of("actor", v, KINDS) for v in grouped.get("actor", ())),
        tools=tuple(_one_of("tool", v, TOOLS) for v in grouped.get("tool", ())),
        hand_edit=_optional_boolean(grouped, "handEdit"),
        managed_by=tuple(
            _one_of("managedBy", v, MANAGING_TOOLS) for v in grouped.get("managedBy", ())
        ),
    )


def page(grouped: dict[str, list[str]]) -> Page:
    raw_limit = single(grouped, "limit")
    limit = DEFAULT_LIMIT
    if raw_limit is not None:
        limit = whole_number(raw_limit) or 0
        if not 1 <= limit <= MAX_LIMIT:
            raise QueryError("limit", f"must be a whole number from 1 to {MAX_LIMIT}")
    cursor = single(grouped, "cursor")
    return Page(limit, decode_cursor(cursor) if cursor else None)


def after_id(grouped: dict[str, list[str]], last_event_id: str | None) -> int | None:
    raw = last_event_id if last_event_id is not None else single(grouped, "after")
    if raw is None or raw == "":
        return None
    event_id = whole_number(raw)
    if event_id is None:
        raise QueryError("after", "must be an event id (a whole number)")
    return event_id


def single(grouped: dict[str, list[str]], key: str) -> str | None:
    values = grouped.get(key)
    if not values:
        return None
    if len(values) > 1:
        raise QueryError(key, "may be given only once")
    return values[0]


def _user_pattern(user: str) -> str:
    # Users are matched with GLOB: only `*` is a wildcard, everything else is literal.
    return re.sub(r"([\[\]?])", r"[\1]", user)


def _operation(value: str) -> str:
    operation = value.upper()
    if operation not in OPERATIONS:
        raise QueryError("operation", f"must be one of {', '.join(OPERATIONS)}")
    return operation


def _one_of(name: str, value: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise QueryError(name, f"unknown value {value!r} (one of {', '.join(allowed)})")
    return value


def _optional_boolean(grouped: dict[str, list[str]], name: str) -> bool | None:
    value = single(grouped, name)
    return None if value is None else _boolean(name, value)


def _boolean(name: str, value: str) -> bool:
    lowered = value.lower()
    if lowered not in ("true", "false", "1", "0"):
        raise QueryError(name, "must be true or false")
    return lowered in ("true", "1")


def parse_time(value: str, now: datetime) -> datetime:
    """RFC 3339, or a duration back from now (`15m`, `2h`, `7d`)."""
    if value[:1].isdigit() and value[-1:].isalpha() and value[-1] not in "Zz":
        return now - parse_duration(value)
    moment = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _time(name: str, value: str | None, now: datetime) -> datetime | None:
    if value is None:
        return None
    try:
        return parse_time(value, now)
    except (ValueError, OverflowError):
        raise QueryError(name, "must be an RFC 3339 time or a duration like 15m, 2h, 7d") from None

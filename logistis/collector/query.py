"""The event filters of the API: parsed from query parameters, turned into one SQL WHERE clause.

Parsing is strict: an unknown parameter or a malformed value raises `QueryError` naming it,
which the HTTP edge answers with a 400. The clauses differ between the stores only where their
SQL does (case-insensitive comparison, glob patterns): each store's SQL module has a `Dialect`.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from logistis.collector.actors import KINDS, TOOLS
from logistis.collector.events import MACHINE_PREFIX, time_to_ms
from logistis.collector.gitops import MANAGING_TOOLS
from logistis.collector.units import parse_duration

DEFAULT_LIMIT = 100
MAX_ID = 2**63 - 1
MAX_LIMIT = 1000
FILTERS = (
    "namespace",
    "kind",
    "group",
    "name",
    "user",
    "operation",
    "people",
    "since",
    "until",
    "q",
    "actor",
    "tool",
    "handEdit",
    "managedBy",
)
# What `q` searches: the columns of the user, namespace, name, kind and field manager.
TEXT_COLUMNS = ("username", "namespace", "name", "kind", "field_manager")
PAGING = ("limit", "cursor")
STREAM = ("after",)
_OPERATIONS = ("CREATE", "UPDATE", "DELETE", "CONNECT")
# Who acted and what manages the object are kept beside the events (collector/provenance.py):
# an event matches when its row does. An event the deriver has not reached has none yet.
_PROVENANCE = "EXISTS (SELECT 1 FROM provenance AS p WHERE p.id = events.id AND {test})"


class QueryError(ValueError):
    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(f"{parameter}: {message}")
        self.parameter = parameter


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


@dataclass(frozen=True, slots=True)
class EventQuery:
    namespaces: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    names: tuple[str, ...] = ()
    users: tuple[str, ...] = ()
    operations: tuple[str, ...] = ()
    people: bool = False
    since: datetime | None = None
    until: datetime | None = None
    text: str = ""
    actors: tuple[str, ...] = ()
    tools: tuple[str, ...] = ()
    hand_edit: bool | None = None
    managed_by: tuple[str, ...] = ()
    namespaced: bool = False
    """Only changes to namespaced objects (the Kubernetes API's `changes` across namespaces)."""
    event_id: int | None = None
    """Only this event (the Kubernetes API's `metadata.name`)."""

    @property
    def needs_events(self) -> bool:
        """True when a filter reaches past the aggregate table (id, name, time, text,
        provenance)."""
        return bool(
            self.event_id is not None
            or self.names
            or self.since
            or self.until
            or self.text
            or self.actors
            or self.tools
            or self.hand_edit is not None
            or self.managed_by
        )

    def where(
        self, dialect: Dialect, extra: Iterable[tuple[str, list[object]]] = ()
    ) -> tuple[str, list[object]]:
        clauses: list[tuple[str, list[object]]] = [
            _any_of("namespace = ?", self.namespaces),
            _any_of(dialect.kind, self.kinds, repeat=2),
            _any_of("grp = ?", self.groups),
            _any_of("name = ?", self.names),
            _users(dialect, self.users),
            _any_of("operation = ?", self.operations),
        ]
        if self.namespaced:
            clauses.append(("namespace != ?", [""]))
        if self.event_id is not None:
            clauses.append(("id = ?", [self.event_id]))
        if self.people:
            clauses.append(("substr(username, 1, 7) != ?", [MACHINE_PREFIX]))
        if self.since:
            clauses.append(("time_ms >= ?", [time_to_ms(self.since)]))
        if self.until:
            clauses.append(("time_ms < ?", [time_to_ms(self.until)]))
        if self.text:
            text_sql = " OR ".join(dialect.text.format(column=c) for c in TEXT_COLUMNS)
            clauses.append((dialect.text_found, [self.text] if dialect.text_found else []))
            clauses.append((f"({text_sql})", [self.text] * len(TEXT_COLUMNS)))
        clauses.extend(self._provenance())
        clauses.extend(extra)
        used = [(sql, params) for sql, params in clauses if sql]
        if not used:
            return "", []
        return "WHERE " + " AND ".join(sql for sql, _ in used), [p for _, ps in used for p in ps]

    def _provenance(self) -> list[tuple[str, list[object]]]:
        clauses = [
            _any_of("p.actor = ?", self.actors),
            _any_of("p.tool = ?", self.tools),
            _any_of("p.managed_tool = ?", self.managed_by),
        ]
        if self.hand_edit:
            clauses.append(("p.hand_edit = ?", [True]))
        tested = [(sql, params) for sql, params in clauses if sql]
        found = []
        if tested:
            test = " AND ".join(sql for sql, _ in tested)
            found.append((_PROVENANCE.format(test=test), [p for _, ps in tested for p in ps]))
        if self.hand_edit is False:
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


@dataclass(frozen=True, slots=True)
class Page:
    limit: int = DEFAULT_LIMIT
    before_id: int | None = None


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


def encode_cursor(before_id: int) -> str:
    return base64.urlsafe_b64encode(f"v1:{before_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise QueryError("cursor", "malformed cursor") from None
    version, _, value = text.partition(":")
    before_id = whole_number(value)
    if version != "v1" or before_id is None:
        raise QueryError("cursor", "malformed cursor")
    return before_id


def whole_number(raw: str) -> int | None:
    """An ASCII decimal that fits an SQLite INTEGER, else None.

    `str.isdigit` alone is not enough: it accepts "²", which `int` refuses, and a number past
    2**63 - 1 makes SQLite raise instead of matching nothing (past 4300 digits, `int` refuses).
    """
    if not (raw.isascii() and raw.isdigit()) or len(raw) > len(str(MAX_ID)):
        return None
    value = int(raw)
    return value if value <= MAX_ID else None


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
    if operation not in _OPERATIONS:
        raise QueryError("operation", f"must be one of {', '.join(_OPERATIONS)}")
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

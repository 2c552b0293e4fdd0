"""What a reader asks of the history: the event filters, a page of the newest events, and the
cursor that continues it.

The edge builds a query from HTTP parameters (`collector/edge/parameters.py`); each store turns it
into its own SQL (`collector/store/where.py`).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime

from logistis.collector.errors import CollectorError

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
PAGING = ("limit", "cursor")
STREAM = ("after",)


class QueryError(CollectorError, ValueError):
    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(f"{parameter}: {message}")
        self.parameter = parameter


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


@dataclass(frozen=True, slots=True)
class Page:
    limit: int = DEFAULT_LIMIT
    before_id: int | None = None


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

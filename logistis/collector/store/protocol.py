"""What the collector needs of a store, whichever database holds the history.

The webhook's writer, retention, the query API, the stream and `migrate-store` use only this;
`collector.store.sqlite` and `collector.store.postgres` implement it. Every database error is
turned into `StoreError` at the store's edge, so nothing above it knows which driver ran.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from logistis.collector.history.events import Event
from logistis.collector.history.query import EventQuery, Page
from logistis.collector.history.runs import Run

if TYPE_CHECKING:
    from logistis.collector.history.continuity import Ops, Step
    from logistis.collector.history.events import JSONObject
    from logistis.collector.history.gitops import GitOpsSettings
    from logistis.collector.history.insights import Window
    from logistis.collector.history.judgements import Judged, Judgement, Neighbours
    from logistis.collector.history.provenance import Author, Derived, Identity, Provenance
    from logistis.collector.store.aggregates import Facets, Insights, NamespaceCount

# One stored event as `migrate-store` copies it: its id, then the columns of `EncodedEvent`.
StoredRow = tuple[Any, ...]


class StoreError(Exception):
    """The database cannot be opened or used; the message names it (never with a password)."""


@dataclass(frozen=True, slots=True)
class NotStored:
    """Why one event of a group was left out; the rest of its group is committed."""

    reason: str
    """`not encodable` or `not storable`: a metric label, so one of a few words."""
    error: str
    """What failed, for the log line that names the event."""


@dataclass(frozen=True, slots=True)
class Retention:
    max_events_per_resource: int = 100
    """Older events of one resource beyond this many are removed (the original kept 100)."""
    max_age: timedelta | None = None
    """Events older than this are removed; None keeps them (subject to the other limits)."""
    max_bytes: int | None = None
    """When the database uses more than this, the oldest events are removed."""
    interval_seconds: float = 60.0
    """How often age and size limits are enforced."""


@dataclass(frozen=True, slots=True)
class Underived:
    """A committed event the deriver has not reached, as it reads it. What decoding costs is
    left to the deriver's thread: its objects and summary are decoded when called for."""

    id: int
    time_ms: int
    operation: str
    subresource: str
    dry_run: bool
    size: int
    """The bytes of JSON of its objects: what decoding them holds in memory."""
    objects: Callable[[], tuple[JSONObject | None, JSONObject | None]]
    """(oldObject, object), decoded when called."""
    changes: Callable[[], Ops] | None
    """Its kept change summary, decoded when called; None while it is pending: committed
    without it (SQLite's commit groups, rows copied in), for the deriver to make."""
    in_hand: bool = False
    """Whether its objects came from the commit that stored them (`store.handoff`), not from
    its stored body."""


OutboxRow = tuple[int, str, str, int]
"""An item due to a notification sink, as the deriver's pass queues it: (event id, sink, rule,
the event's time in ms)."""

# What became of an outbox item (collector/pipeline/notify).
WAITING, SENT, FAILED, DROPPED = 0, 1, 2, 3


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """A claimed item of the outbox."""

    event_id: int
    sink: str
    rule: str
    queued_ms: int
    attempts: int


@dataclass(frozen=True, slots=True)
class Settled:
    """An item's new state after an attempt (WAITING again: tried later, at `due_ms`)."""

    event_id: int
    sink: str
    state: int
    attempts: int
    due_ms: int


@dataclass(frozen=True, slots=True)
class Backlog:
    """One sink's waiting items."""

    sink: str
    waiting: int
    retrying: int
    """Of those, the ones tried already."""
    oldest_ms: int
    """The oldest waiting item's event time."""


class Store(Protocol):
    name: str
    """The database, for logs and errors: a path, or a URL without its password."""
    concurrent_commits: int
    """Commit groups the writer may have in flight at once; each commits after the one before
    it, so ids still become visible in the order they were given."""

    # -- writing -----------------------------------------------------------------------------

    async def record(self, events: Sequence[Event]) -> list[NotStored | None]:
        """Encode the events and commit them in one transaction; returns once committed, with
        None for each stored event and why for each one left out (alone: the others of its
        group are committed)."""
        ...

    async def probe_write(self) -> None:
        """Commit a write of our own: after a failed commit, proof that writes land again."""
        ...

    async def check_writable(self) -> None:
        """Raise StoreError unless the store would take a write now (for /readyz)."""
        ...

    async def expire(self, retention: Retention, now: datetime) -> int:
        """Remove events past the age and size limits (the per-resource limit is applied as
        events are recorded), and the heartbeats older than what the blind spots of the kept
        history need; returns how many events were removed."""
        ...

    # -- deriving (collector.deriver) -------------------------------------------------------

    derives_after_commit: bool
    """Whether commit groups leave the change summary to the deriver (else they carry it,
    and only events copied in from another store and events with large objects lack it).
    Continuity and outcome are the deriver's on both."""
    derive_spacing_seconds: float
    """The least time from one pass of the deriver to the next while it keeps up with the
    commits: fewer, larger passes where a pass has a fixed cost that commit groups pay for."""

    async def underived(self, after: int | None, limit: int) -> tuple[list[Underived], int, int]:
        """Up to `limit` committed events after the id `after` (None: after the mark last
        saved), oldest first; the mark they follow; and the newest committed id (when fewer
        than `limit` come back, every event up to it is derived once these are)."""
        ...

    async def save_derived(
        self,
        changes: Sequence[tuple[int, Ops]],
        judgements: Mapping[int, Judgement],
        up_to: int,
        provenance: Derived | None = None,
        outbox: Sequence[OutboxRow] = (),
    ) -> None:
        """Fill in (event id, change summary) of pending events and the judgements, and move the mark to
        `up_to`, in one transaction; an event already derived or removed meanwhile is left as
        it is, and so is a mark another collector has moved past `up_to`. The pass's
        provenance rows and decisions are kept before the mark moves (collector/history/provenance.py).
        The notifications it matched are queued in the same transaction (an item queued
        before, whatever became of it, is left as it is).
        """
        ...

    # -- notifications (collector/pipeline/notify) ------------------------------------------------------

    async def claim_outbox(self, now_ms: int, until_ms: int, limit: int) -> list[OutboxItem]:
        """Up to `limit` items due by `now_ms`, claimed until `until_ms`: no other collector
        takes them before then."""
        ...

    async def settle_outbox(self, settled: Sequence[Settled]) -> None:
        """What became of claimed items, in one transaction."""
        ...

    async def outbox_backlog(self) -> list[Backlog]:
        """The waiting items, per sink."""
        ...

    async def watch_commits(self, wake: Callable[[], None]) -> None:
        """Call `wake` after commits of other collectors sharing the store, until cancelled;
        a store only one collector writes returns at once (its own writer wakes the
        streams)."""
        ...

    # -- reading -----------------------------------------------------------------------------

    async def list_events(self, query: EventQuery, page: Page) -> tuple[list[Event], str | None]:
        """One page of summaries, newest first, and the cursor of the next page."""
        ...

    async def events_after(self, after_id: int, query: EventQuery, limit: int) -> list[Event]:
        """Summaries after an id, oldest first: the stream's read."""
        ...

    async def get_event(self, event_id: int) -> Event | None:
        """One event with its objects."""
        ...

    async def get_events(self, ids: Sequence[int]) -> list[Event]:
        """Events with their objects, in one read (those not found left out)."""
        ...

    async def last_id(self) -> int: ...

    async def known_kinds(self) -> dict[tuple[str, str], str]:
        """(group, resource) -> kind for every resource recorded."""
        ...

    async def namespaces(self) -> list[NamespaceCount]:
        """Every namespace's events, newest event and kinds."""
        ...

    async def facets(self, query: EventQuery) -> Facets:
        """The events the query selects, counted by user, kind, namespace and operation."""
        ...

    async def first_time_ms(self) -> int | None:
        """The time of the first event kept, None when none is."""
        ...

    async def insights(self, query: EventQuery, window: Window, top: int) -> Insights:
        """`/api/v1/insights` over the events the query selects (collector/history/insights.py)."""
        ...

    async def used_bytes(self) -> int:
        """What the size limit counts (each backend says what that is)."""
        ...

    # -- continuity and outcome (collector/history/judgements.py) -------------------------------------

    async def judgements(self, ids: Sequence[int]) -> Judged:
        """The kept judgements of these events, and how far the deriver's judging reaches."""
        ...

    async def neighbours(self, ids: Sequence[int]) -> dict[int, Neighbours]:
        """Each event's recorded neighbours that take part, before and after it."""
        ...

    async def steps(self, ids: Iterable[int]) -> dict[int, Step]:
        """The events as continuity compares them: operation, subresource, objects."""
        ...

    # -- who acted, what manages the object (collector/history/provenance.py) --------------------------

    gitops: GitOpsSettings
    """How events' actors and managing tools are told (the config file's `gitops`)."""

    async def authors(self, ids: Sequence[int]) -> dict[int, Author]:
        """Who made each event's request, and the object it is filed under."""
        ...

    async def kept_provenance(self, ids: Sequence[int]) -> dict[int, Provenance]:
        """The kept rows of these events (none for an event the deriver has not reached)."""
        ...

    async def latest(self, wanted: Sequence[tuple[Identity, int]]) -> list[list[int]]:
        """For each (object, id): its latest recorded events before the id (dry runs left
        out), newest first, a few."""
        ...

    async def hand_edits(self, wanted: Sequence[tuple[Identity, int]]) -> dict[int, Identity]:
        """The kept hand edits of each object before the id, not decided before it."""
        ...

    # -- coverage (collector/pipeline/coverage.py) -----------------------------------------------------

    async def start_run(self, collector: str, started_ms: int) -> None: ...

    async def beat(self, collector: str, started_ms: int, at_ms: int) -> None: ...

    async def stop_run(self, collector: str, started_ms: int, at_ms: int) -> None: ...

    async def runs(self) -> list[Run]:
        """Every collector run's heartbeats."""
        ...

    async def import_runs(self, runs: Sequence[Run]) -> None:
        """Store copied runs as they were (a run already there takes its copy's beats), in one
        transaction."""
        ...

    # -- copying the history (migrate-store) -------------------------------------------------

    async def count(self, up_to_id: int) -> int:
        """Events stored with an id up to `up_to_id`."""
        ...

    async def export_rows(self, after_id: int, limit: int) -> list[StoredRow]:
        """Stored events after an id, oldest first, exactly as kept (objects still encoded)."""
        ...

    async def import_rows(self, rows: Sequence[StoredRow]) -> None:
        """Store exported rows with their own ids, in one transaction."""
        ...

"""What the collector needs of a store, whichever database holds the history.

Each user of the store is typed by a protocol of its own, of the few calls it makes: the
writer, the deriver, retention, coverage, notifications, the query API, the Kubernetes API and
`migrate-store`. `Store` is all of them: `collector.store.sqlite` and
`collector.store.postgres` implement it, and the runtime hands it to each user. What goes in
and comes out are the history's values (collector/history/), never rows or API JSON. Every
database error is turned into `StoreError` at the store's edge, so nothing above it knows which
driver ran.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from logistis.collector.errors import CollectorError
from logistis.collector.history.events import Event
from logistis.collector.history.judgements import JudgementStore
from logistis.collector.history.provenance import ProvenanceStore
from logistis.collector.history.query import EventQuery
from logistis.collector.history.reading import Reading
from logistis.collector.history.runs import Run

if TYPE_CHECKING:
    from logistis.collector.history.continuity import Ops
    from logistis.collector.history.events import JSONObject
    from logistis.collector.history.insights import Window
    from logistis.collector.history.judgements import Judgement
    from logistis.collector.history.provenance import Derived
    from logistis.collector.store.aggregates import Facets, Insights, NamespaceCount

# One stored event as `migrate-store` copies it: its id, then the columns of `EncodedEvent`.
StoredRow = tuple[Any, ...]


KEEP_PER_RESOURCE = 100
"""Events kept per resource unless configured otherwise (the original kept 100)."""


class StoreError(CollectorError):
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
    max_events_per_resource: int = KEEP_PER_RESOURCE
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


# -- what each of the store's users needs of it --------------------------------------------------


class WriterStore(Protocol):
    """The writer's (collector/pipeline/writer.py): commit groups, and the proof that writes
    land again after a failed one."""

    concurrent_commits: int
    """Commit groups the writer may have in flight at once; each commits after the one before
    it, so ids still become visible in the order they were given."""

    async def record(self, events: Sequence[Event]) -> list[NotStored | None]:
        """Encode the events and commit them in one transaction; returns once committed, with
        None for each stored event and why for each one left out (alone: the others of its
        group are committed)."""
        ...

    async def probe_write(self) -> None:
        """Commit a write of our own: after a failed commit, proof that writes land again."""
        ...


class PassReads(JudgementStore, ProvenanceStore, Protocol):
    """What a pass of the deriver reads: the events it has not reached, and what judging and
    provenance read around them."""

    async def underived(self, after: int | None, limit: int) -> tuple[list[Underived], int, int]:
        """Up to `limit` committed events after the id `after` (None: after the mark last
        saved), oldest first; the mark they follow; and the newest committed id (when fewer
        than `limit` come back, every event up to it is derived once these are)."""
        ...


class ThreadReads(PassReads, Protocol):
    """A pass's reads that run in the calling thread, without an event loop: opened, used and
    closed in one thread."""

    def snapshot(self) -> AbstractContextManager[None]:
        """The reads made inside see the history as it was at the first of them."""
        ...

    def close(self) -> None: ...


class DeriverStore(PassReads, Protocol):
    """The deriver's (collector/pipeline/deriver.py): its pass's reads, and its pass saved."""

    derive_spacing_seconds: float
    """The least time from one pass of the deriver to the next while it keeps up with the
    commits: fewer, larger passes where a pass has a fixed cost that commit groups pay for."""
    derive_spacing_most_seconds: float
    """The most it grows to while passes come busy (`pipeline.deriver.Spacing`)."""

    def open_thread_reads(self) -> ThreadReads | None:
        """Reads for a pass run whole in the calling thread, off the event loop, on a
        connection of their own (SQLite's); None where reads need the event loop
        (PostgreSQL's, whose connections belong to it)."""
        ...

    async def save_derived(
        self,
        changes: Sequence[tuple[int, Ops]],
        judgements: Mapping[int, Judgement],
        up_to: int,
        provenance: Derived | None = None,
        outbox: Sequence[OutboxRow] = (),
    ) -> None:
        """Fill in (event id, change summary) of pending events and the judgements, and move
        the mark to `up_to`, in one transaction; an event already derived or removed meanwhile
        is left as it is, and so is a mark another collector has moved past `up_to`. The pass's
        provenance rows and decisions are kept before the mark moves
        (collector/history/provenance.py). The notifications it matched are queued in the same
        transaction (an item queued before, whatever became of it, is left as it is).
        """
        ...


class RetentionStore(Protocol):
    """Retention's (collector/pipeline/retention.py)."""

    async def expire(self, retention: Retention, now: datetime) -> int:
        """Remove events past the age and size limits (the per-resource limit is applied as
        events are recorded), and the heartbeats older than what the blind spots of the kept
        history need; returns how many events were removed."""
        ...

    async def used_bytes(self) -> int:
        """What the size limit counts (each backend says what that is)."""
        ...


class HeartbeatStore(Protocol):
    """Coverage's (collector/pipeline/coverage.py): this collector's run and its beats."""

    async def start_run(self, collector: str, started_ms: int) -> None: ...

    async def beat(self, collector: str, started_ms: int, at_ms: int) -> None: ...

    async def stop_run(self, collector: str, started_ms: int, at_ms: int) -> None: ...


class NotifyStore(Reading, Protocol):
    """Notification delivery's (collector/pipeline/notify/outbox.py): the outbox, and the
    events its items name, read whole."""

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


class QueryStore(Reading, Protocol):
    """The query API's (collector/edge/api.py, collector/edge/stream.py): events read whole
    (collector/history/reading.py), the counts, the runs for coverage, and health."""

    async def last_id(self) -> int: ...

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

    async def used_bytes(self) -> int: ...

    async def check_writable(self) -> None:
        """Raise StoreError unless the store would take a write now (for /readyz)."""
        ...


class KubeStore(Reading, Protocol):
    """The Kubernetes API's (collector/kubeapi/): events read whole, where a listing stands,
    and how many it holds in all."""

    async def last_id(self) -> int: ...

    async def facets(self, query: EventQuery) -> Facets: ...


class CopyStore(Protocol):
    """`migrate-store`'s (collector/store/transfer.py): the history as kept, and the runs."""

    name: str
    """The database, for logs and errors: a path, or a URL without its password."""

    async def last_id(self) -> int: ...

    async def count(self, up_to_id: int) -> int:
        """Events stored with an id up to `up_to_id`."""
        ...

    async def export_rows(self, after_id: int, limit: int) -> list[StoredRow]:
        """Stored events after an id, oldest first, exactly as kept (objects still encoded)."""
        ...

    async def import_rows(self, rows: Sequence[StoredRow]) -> None:
        """Store exported rows with their own ids, in one transaction."""
        ...

    async def runs(self) -> list[Run]:
        """Every collector run's heartbeats."""
        ...

    async def import_runs(self, runs: Sequence[Run]) -> None:
        """Store copied runs as they were (a run already there takes its copy's beats), in one
        transaction."""
        ...


class Store(
    WriterStore,
    DeriverStore,
    RetentionStore,
    HeartbeatStore,
    NotifyStore,
    QueryStore,
    KubeStore,
    CopyStore,
    Protocol,
):
    """Everything of the above: what both backends implement, and what the runtime opens and
    hands to each user (collector/runtime.py)."""

    async def known_kinds(self) -> dict[tuple[str, str], str]:
        """(group, resource) -> kind for every resource recorded."""
        ...

    async def watch_commits(self, wake: Callable[[], None]) -> None:
        """Call `wake` after commits of other collectors sharing the store, until cancelled;
        a store only one collector writes returns at once (its own writer wakes the
        streams)."""
        ...

"""The PostgreSQL store: the same history in a database that outlives the pod, through asyncpg.

Three pools, all opened and closed with the runtime: two connections for writes (commit groups,
two in flight at once, retention, write probes), so a burst of queries never delays a commit;
a few for reads; one for the deriver's updates. Each
commit group is one statement (`logistis_record`, see `postgres_functions`), its own
transaction, committed with `synchronous_commit` on before any webhook waiting on it answers. A
connection the server dropped is replaced on the next use, so recording resumes by itself when
the database returns. Every driver error becomes `StoreError` at the store's edge, with the
password masked (`postgres_connections`).
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import astuple
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

import asyncpg

from logistis.collector.history.continuity import Ops
from logistis.collector.history.events import Event, time_to_ms
from logistis.collector.history.gitops import GitOpsSettings
from logistis.collector.history.judgements import Judgement
from logistis.collector.history.provenance import Derived
from logistis.collector.history.runs import Run
from logistis.collector.store import postgres_connections as connections
from logistis.collector.store import postgres_listen
from logistis.collector.store import postgres_schema as schema
from logistis.collector.store import postgres_sql as sql
from logistis.collector.store.handoff import HANDOFF_BYTES, HandOff
from logistis.collector.store.postgres_connections import Connection
from logistis.collector.store.postgres_statistics import YoungStatistics
from logistis.collector.store.protocol import (
    KEEP_PER_RESOURCE,
    Backlog,
    NotStored,
    OutboxItem,
    OutboxRow,
    Settled,
    StoredRow,
    StoreError,
)
from logistis.collector.store.queries import (
    SQLQueries,
    judgement_rows,
    provenance_rows,
    summary_texts,
)
from logistis.collector.store.rows import EncodedEvent, committed, encoded
from logistis.collector.store.url import StoreURL
from logistis.collector.threads import worker

if TYPE_CHECKING:
    # Settings name the store; the store needs only the shape of the retention limits.
    from logistis.collector.store.protocol import Retention

# Four: the facets run their four aggregates at once.
READERS = 4
WRITERS = 2
# Small chunks keep each retention transaction short, so commit groups never wait long.
CHUNK = 500
# The objects of its commit groups are kept decoded (the encoder thread decodes them for their
# change summaries): about five times their JSON in memory (the captured reviews: 4.9x). A
# quarter of SQLite's budget of JSON holds about as much, and still several passes of the
# deriver's 64 events.
HANDOFF_JSON_BYTES = HANDOFF_BYTES // 4
# What one row can raise on its own (text PostgreSQL cannot hold, a number out of range); a
# database that is away or refuses every write fails the whole group (StoreError).
ROW_ERRORS = (
    asyncpg.DataError,
    asyncpg.IntegrityConstraintViolationError,
    OverflowError,
    TypeError,
    ValueError,
)

T = TypeVar("T")
Columns = tuple[list[Any], ...]


class PostgresStore(SQLQueries):
    _sql = sql
    # Two write connections: the next group is encoded and sent while the one before it waits
    # for its WAL flush, then takes the write lock as soon as that one commits.
    concurrent_commits = WRITERS
    # An UPDATE after the commit would write a second version of the row and of its index
    # entries (1,016 -> 1,704 bytes per Deployment update, measured): groups carry them.
    derives_after_commit = False
    # A pass costs the server about ten statements whatever its size, on the cores the commit
    # groups need: at 500 reviews/s a pass after every commit took ~650 µs of server CPU per
    # review; 25 ms apart, ~1/3 of that (p99 13-16 -> 10-12 ms). Lag stays well under 100 ms.
    derive_spacing_seconds = 0.025
    # Not stretched under load: longer passes measured no cheaper here, and hold the write lock
    # that commit groups wait on longer (BENCHMARKS.md, "The pause between passes").
    derive_spacing_most_seconds = 0.025

    def __init__(
        self,
        url: StoreURL,
        writer: asyncpg.Pool,
        readers: asyncpg.Pool,
        deriver: asyncpg.Pool,
        encoder: ThreadPoolExecutor,
        gitops: GitOpsSettings,
    ) -> None:
        self.url = url
        self.gitops = gitops
        self.name = str(url)
        self._writer = writer
        self._readers = readers
        # Its own connection: deriving never queues a commit group behind it on the client.
        self._deriver = deriver
        self._encoder = encoder
        # Two groups in flight commit in the order of their ids (the write lock), and come
        # back in it: kept oldest first.
        self._handoff = HandOff(HANDOFF_JSON_BYTES)
        self._statistics = YoungStatistics(url)

    @classmethod
    @asynccontextmanager
    async def open(
        cls,
        url: StoreURL,
        *,
        max_events_per_resource: int = KEEP_PER_RESOURCE,
        gitops: GitOpsSettings | None = None,
    ) -> AsyncIterator[PostgresStore]:
        pools: list[asyncpg.Pool] = []
        encoder = worker("postgres-encode")
        try:
            for size, settings in (
                (WRITERS, sql.SERVER_SETTINGS),
                (READERS, sql.READER_SETTINGS),
                (1, sql.SERVER_SETTINGS),
            ):
                pools.append(await connections.mapped(url, connections.pool(url, size, settings)))
            store = cls(url, pools[0], pools[1], pools[2], encoder, gitops or GitOpsSettings())
            await store._write(lambda c: _migrate(c, url, max_events_per_resource))
            try:
                yield store
            finally:
                await store._statistics.close()
        finally:
            for pool in reversed(pools):
                await connections.close(pool)
            encoder.shutdown(wait=True)

    async def _write(self, work: Callable[[Connection], Awaitable[T]]) -> T:
        return await connections.mapped(self.url, connections.with_connection(self._writer, work))

    async def _read(self, work: Callable[[Connection], Awaitable[T]]) -> T:
        return await connections.mapped(self.url, connections.with_connection(self._readers, work))

    async def _fetch(self, statement: str, params: Sequence[Any] = ()) -> list[asyncpg.Record]:
        if any(isinstance(p, str) and "\x00" in p for p in params):
            # PostgreSQL text cannot hold a NUL: no stored value equals or contains one (and
            # the server would refuse the parameter).
            return []
        return await self._read(lambda c: c.fetch(connections.numbered(statement), *params))

    # -- writing -----------------------------------------------------------------------------

    async def record(self, events: Sequence[Event]) -> list[NotStored | None]:
        """Encode the events off the event loop, then insert them in one statement; a row the
        database refuses (text PostgreSQL cannot hold, such as a NUL) is left out alone. A
        stored event is given its id, and its objects are kept for the deriver."""
        encoded_events, rows, columns = await asyncio.get_running_loop().run_in_executor(
            self._encoder, _encode_group, events
        )
        stored: list[int | str] = []
        if rows:
            stored = await self._write(lambda c: _insert(c, rows, columns))
            self._statistics.given(stored)
        result, sizes = committed(events, encoded_events, stored)
        self._handoff.keep(events, result, sizes)
        return result

    async def import_rows(self, rows: Sequence[StoredRow]) -> None:
        async def copy(connection: Connection) -> None:
            async with connection.transaction():
                await connection.execute(sql.RECORD, *_columns(rows))
                await connection.execute(sql.ADVANCE_SEQUENCE)
                # Rows without an id take new ones, above the mark: the deriver reaches them.
                given = [row[0] for row in rows if row[0] is not None]
                if given:
                    await connection.execute(sql.LOWER_DERIVED_UP_TO, min(given) - 1)

        await self._write(copy)
        self._statistics.given(row[0] for row in rows if row[0] is not None)

    async def start_run(self, collector: str, started_ms: int) -> None:
        await self._write(
            lambda c: c.execute(sql.INSERT_HEARTBEAT, collector, started_ms, started_ms)
        )

    async def beat(self, collector: str, started_ms: int, at_ms: int) -> None:
        await self._write(lambda c: c.execute(sql.UPDATE_HEARTBEAT, collector, started_ms, at_ms))

    async def stop_run(self, collector: str, started_ms: int, at_ms: int) -> None:
        await self._write(lambda c: c.execute(sql.STOP_HEARTBEAT, collector, started_ms, at_ms))

    async def import_runs(self, runs: Sequence[Run]) -> None:
        rows = [astuple(run) for run in runs]

        async def copy(connection: Connection) -> None:
            async with connection.transaction():
                await connection.executemany(sql.IMPORT_HEARTBEAT, rows)

        await self._write(copy)

    async def save_derived(
        self,
        changes: Sequence[tuple[int, Ops]],
        judgements: Mapping[int, Judgement],
        up_to: int,
        provenance: Derived | None = None,
        outbox: Sequence[OutboxRow] = (),
    ) -> None:
        # Each its own statement and transaction, the write lock held for the server's work
        # alone; the provenance first, so the mark never passes an event without it.
        if provenance is not None:
            await self._save_provenance(provenance)
        kept, usual = judgement_rows(judgements)
        # One array per column of the kept rows (six columns, none when nothing is kept).
        columns = [list(column) for column in zip(*kept, strict=True)] or [[]] * 6
        summaries = summary_texts(changes)
        summarised, texts = [i for i, _ in summaries], [text for _, text in summaries]
        arguments = (up_to, summarised, texts, *columns, usual)
        if outbox:
            queued = [list(column) for column in zip(*outbox, strict=True)]
            await self._derived(sql.SAVE_DERIVED_QUEUING, (*arguments, *queued))
        else:
            await self._derived(sql.SAVE_DERIVED, arguments)

    async def claim_outbox(self, now_ms: int, until_ms: int, limit: int) -> list[OutboxItem]:
        rows = await self._write(
            lambda c: c.fetch(sql.CLAIM_OUTBOX, until_ms, now_ms, now_ms, limit)
        )
        return [OutboxItem(*row) for row in rows]

    async def settle_outbox(self, settled: Sequence[Settled]) -> None:
        rows = [(s.state, s.attempts, s.due_ms, s.event_id, s.sink) for s in settled]
        await self._write(lambda c: c.executemany(sql.SETTLE_OUTBOX, rows))

    async def outbox_backlog(self) -> list[Backlog]:
        rows = await self._read(lambda c: c.fetch(sql.SELECT_OUTBOX_BACKLOG))
        return [Backlog(*row) for row in rows]

    async def _save_provenance(self, derived: Derived) -> None:
        rows, decided = provenance_rows(derived)
        # One array per column (none when the pass has no rows or decided nothing).
        columns = [list(column) for column in zip(*rows, strict=True)] or [[]] * 9
        decisions = [list(column) for column in zip(*decided, strict=True)] or [[]] * 3
        await self._derived(sql.SAVE_PROVENANCE, (*columns, *decisions))

    async def _derived(self, statement: str, arguments: Sequence[Any]) -> None:
        """Save what a pass derived, on the deriver's own connection."""
        await connections.mapped(
            self.url,
            connections.with_connection(self._deriver, lambda c: c.execute(statement, *arguments)),
        )

    async def probe_write(self) -> None:
        await self._write(lambda c: c.execute(sql.PROBE_WRITE))

    async def check_writable(self) -> None:
        # A server in recovery (a replica after a failover went wrong) refuses the write too.
        await self.probe_write()

    async def watch_commits(self, wake: Callable[[], None]) -> None:
        """LISTEN on a connection of its own (a pooled one would lose the subscription when
        the pool resets it), and wake after every commit of any collector (postgres_listen)."""
        await postgres_listen.watch_commits(self.url, wake)

    async def expire(self, retention: Retention, now: datetime) -> int:
        """Age and size limits, by one collector at a time: a pass starts only if no other
        collector on the database is in one (it is skipped, not waited for). The lock is held
        by a connection of its own, closed after the pass: pooled connections are given back
        without a reset, and a lock left on one would stop every later pass of every
        collector."""
        connection = await connections.mapped(
            self.url, connections.connect(self.url, sql.SERVER_SETTINGS)
        )
        try:
            if not await connections.mapped(self.url, connection.fetchval(sql.TRY_RETENTION_LOCK)):
                return 0
            try:
                return await self._expire(retention, now)
            finally:
                # Let go before the connection ends: the server frees a closed session's locks
                # only once its backend has seen it go, and a pass started meanwhile (the next
                # one, on any collector) found the lock taken and was skipped.
                with contextlib.suppress(*connections.DRIVER_ERRORS):
                    await connection.execute(sql.RELEASE_RETENTION_LOCK)
        finally:
            connection.terminate()

    async def _expire(self, retention: Retention, now: datetime) -> int:
        """Age and size limits in small chunks, each behind the write lock. DELETE rather than
        dropping time partitions: per-resource retention removes events of every age anyway,
        and a partition key would have to join the primary key of the ids."""
        removed = 0
        if retention.max_age is not None:
            cutoff = time_to_ms(now - retention.max_age)
            while (deleted := await self._delete(sql.DELETE_OLDER_THAN, cutoff, CHUNK)) > 0:
                removed += deleted
        if retention.max_bytes is not None:
            while await self.used_bytes() > retention.max_bytes:
                deleted = await self._delete(sql.DELETE_OLDEST, CHUNK)
                removed += deleted
                if deleted == 0:
                    break
        await self._delete(sql.DELETE_UNUSED_IDENTITIES)
        # Heartbeats follow the oldest kept event (see postgres_sql); outside the write lock,
        # which commit groups take: they never touch heartbeats.
        await self._write(lambda c: c.execute(sql.DELETE_OLD_HEARTBEATS))
        return removed

    async def _delete(self, statement: str, *params: Any) -> int:
        async def delete(connection: Connection) -> int:
            async with connection.transaction():
                await connection.execute(sql.TAKE_WRITE_LOCK)
                status = await connection.execute(statement, *params)
            return int(status.rpartition(" ")[2])

        return await self._write(delete)

    # -- reading -----------------------------------------------------------------------------

    def open_thread_reads(self) -> None:
        """None: its connections belong to the event loop; the deriver's pass reads there."""
        return None

    async def used_bytes(self) -> int:
        """The kept events' rows as PostgreSQL stores them, TOAST included (see postgres_sql)."""
        return int(await self._read(lambda c: c.fetchval(sql.SELECT_USED_BYTES)))

    async def relation_bytes(self) -> int:
        """Everything the history takes on disk: tables, indexes, TOAST, free space."""
        return int(await self._read(lambda c: c.fetchval(sql.SELECT_RELATION_BYTES)))

    async def export_rows(self, after_id: int, limit: int) -> list[StoredRow]:
        rows = await self._fetch(sql.SELECT_EXPORT, (after_id, limit))
        return [
            (row[0], row[1].bytes if row[1] is not None else row[2], *row[3:5], int(row[5]),
             *row[6:])
            for row in rows
        ]  # fmt: skip


async def _migrate(connection: Connection, url: StoreURL, max_per_resource: int) -> None:
    """Bring the schema up to date. Collectors starting at once take turns on a lock, and each
    finds the version the one before it left."""
    async with connection.transaction():
        await connection.execute(schema.TAKE_MIGRATION_LOCK)
        if await connection.fetchval(schema.SELECT_FOREIGN_EVENTS):
            raise StoreError(f"{url}: has an events table that is not logistis's (refusing it)")
        await connection.execute(schema.CREATE_SCHEMA_TABLE)
        version = await connection.fetchval(schema.SELECT_SCHEMA_VERSION) or 0
        if version > len(schema.MIGRATIONS):
            raise StoreError(
                f"{url}: schema version {version} is newer than this collector knows "
                f"({len(schema.MIGRATIONS)}); upgrade logistis"
            )
        for number, script in enumerate(schema.MIGRATIONS[version:], start=version + 1):
            await connection.execute(script)
            await connection.execute(schema.SET_SCHEMA_VERSION, number)
        await connection.execute(sql.SET_MAX_PER_RESOURCE, max_per_resource)


def _encode_group(
    events: Sequence[Event],
) -> tuple[list[EncodedEvent | NotStored], list[StoredRow], Columns]:
    # With their change summaries (see `derives_after_commit`): this encoding overlaps the
    # commit of the group before (two groups in flight).
    encoded_events = [encoded(event, derived=True) for event in events]
    rows = [(None, *e.row) for e in encoded_events if isinstance(e, EncodedEvent)]
    return encoded_events, rows, _columns(rows)


async def _insert(
    connection: Connection, rows: Sequence[StoredRow], columns: Columns
) -> list[int | str]:
    """The group in one statement; if one of its rows is refused, each row under a savepoint
    of one transaction, so only the refused ones are left out. For each row, the id it was
    given or why it was refused."""
    try:
        ids: list[int] = await connection.fetchval(sql.RECORD, *columns)
    except ROW_ERRORS:
        pass
    else:
        return list(ids)
    stored: list[int | str] = []
    async with connection.transaction():
        for row in rows:
            try:
                async with connection.transaction():
                    (given,) = await connection.fetchval(sql.RECORD, *_columns([row]))
            except ROW_ERRORS as error:
                stored.append(f"{type(error).__name__}: {error}")
            else:
                stored.append(given)
    return stored


def _columns(rows: Sequence[StoredRow]) -> Columns:
    """Rows (id or None first, then the columns of `EncodedEvent`) as `logistis_record`'s
    arrays."""
    columns: Columns = tuple([] for _ in range(18))
    for event_id, uid, *rest in rows:
        packed = isinstance(uid, bytes)
        values = (
            event_id, uuid.UUID(bytes=uid) if packed else None, None if packed else uid,
            rest[0], rest[1], bool(rest[2]), *rest[3:],
        )  # fmt: skip
        for column, value in zip(columns, values, strict=True):
            column.append(value)
    return columns

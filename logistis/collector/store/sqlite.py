"""The embedded store: one SQLite file in WAL mode, one write connection, a few read connections.

Writes come only from `collector.writer.Writer` (group commit), the deriver, retention and
notifications. The write connection lives in a thread of its own and every write is one call
into it (`sqlite_writes`): a group is encoded, inserted and committed in a single hand-over
from the event loop. Reads are served by a small pool of read-only connections so queries never
wait behind a commit. The deriver's process (collector/deriver_process.py) opens the file
`prepared` with a write connection of its own for its saves; the two take turns on
`sqlite_writes.WriteLock`.
"""

from __future__ import annotations

import asyncio
import errno
import os
import sqlite3
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import astuple
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiosqlite

from logistis.collector.history.continuity import Ops
from logistis.collector.history.events import Event, time_to_ms
from logistis.collector.history.gitops import GitOpsSettings
from logistis.collector.history.judgements import Judgement
from logistis.collector.history.provenance import Derived
from logistis.collector.history.runs import Run
from logistis.collector.store import sqlite_schema as schema
from logistis.collector.store import sqlite_sql as sql
from logistis.collector.store import sqlite_writes as writes
from logistis.collector.store.handoff import HandOff
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
from logistis.collector.store.queries import SQLQueries
from logistis.collector.store.sqlite_files import OpenedFiles
from logistis.collector.store.sqlite_thread_reads import ThreadReads

if TYPE_CHECKING:
    # Settings name the store; the store needs only the shape of the retention limits.
    from logistis.collector.store.protocol import Retention

# Four: the facets run their four aggregates at once (SQLite runs them outside the GIL).
READERS = 4

# Room for the WAL to grow to its checkpoint size (1000 pages of 4 KiB) before recording resumes.
MIN_FREE_BYTES = 4 * 2**20
# Small chunks keep each retention transaction short, so admission commits never wait long.
CHUNK = 500


class SQLiteStore(SQLQueries):
    _sql = sql
    # One write thread: a second group would only queue behind the first, gathering less.
    concurrent_commits = 1
    # Updated in place after the commit: the row grows, nothing else is written twice.
    derives_after_commit = True
    # A pass has a fixed cost (~1 ms of CPU, its save included) that small passes pay per
    # event: 10 ms apart at 500 reviews/s took a third of the CPU off and the commit's p50 from
    # 1.5-1.9 to 1.1-1.4 ms, its p99 no worse (BENCHMARKS.md, "fewer collections of garbage").
    # Not more while passes are small: the save takes turns with the commit groups, and a larger
    # one makes the next group wait longer (p99 7-9 -> 14 ms at 25 ms, with the pass on the
    # loop). While they come busy (under load), up to 40 ms: passes of up to 64 events, the
    # deriver's CPU per review -20%, the p99 no worse (BENCHMARKS.md, "The pause between passes").
    derive_spacing_seconds = 0.01
    derive_spacing_most_seconds = 0.04

    def __init__(
        self,
        path: Path,
        writer: writes.WriteThread,
        readers: list[aiosqlite.Connection],
        gitops: GitOpsSettings,
    ):
        self.path = path
        self.gitops = gitops
        self.name = str(path)
        self._writer = writer
        self._files = writer.files
        self._handoff = HandOff()
        self._readers: asyncio.Queue[aiosqlite.Connection] = asyncio.Queue()
        for reader in readers:
            self._readers.put_nowait(reader)

    @classmethod
    @asynccontextmanager
    async def open(
        cls,
        path: Path,
        *,
        max_events_per_resource: int = KEEP_PER_RESOURCE,
        gitops: GitOpsSettings | None = None,
        prepared: bool = False,
    ) -> AsyncIterator[SQLiteStore]:
        """The store in the file at `path`, created or brought up to date and checked; or,
        `prepared`, a file the collector running beside it has prepared so (its deriver's
        process: its own connections, no second check of the whole file, one reader)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        writer: writes.WriteThread | None = None
        readers: list[aiosqlite.Connection] = []
        try:
            # Inside the try: a file SQLite cannot open at all is a StoreError like any other.
            writer = await writes.WriteThread.open(path)
            if prepared:
                await writer.run(writes.join)
            else:
                await writer.run(lambda c: writes.prepare(c, path, max_events_per_resource))
            for _ in range(1 if prepared else READERS):
                reader = await aiosqlite.connect(f"file:{path}?mode=ro", uri=True)
                readers.append(reader)
                for pragma in schema.PRAGMAS_READER:
                    await reader.execute(pragma)
            # Every file exists now (the WAL and its index come with the first reader).
            writer.files = OpenedFiles(path)
        except (sqlite3.Error, StoreError) as error:
            await _close_all(writer, readers)
            cause = error.__cause__ if isinstance(error, StoreError) else error
            message = f"{path}: {cause}" if isinstance(cause, sqlite3.Error) else str(error)
            raise StoreError(message) from error
        except BaseException:
            await _close_all(writer, readers)
            raise
        try:
            yield cls(path, writer, readers, gitops or GitOpsSettings())
        finally:
            await _close_all(writer, readers)

    # -- writing (the writer task and retention only) ------------------------------------------

    async def record(self, events: Sequence[Event]) -> list[NotStored | None]:
        """Encode the events and insert them in one transaction; returns once it is committed,
        with None for each stored event and why for each one left out (alone: the others of
        its group are committed)."""
        stored, sizes = await self._writer.run(lambda c: writes.record(c, events))
        self._handoff.keep(events, stored, sizes)
        return stored

    async def probe_write(self) -> None:
        """Commit a one-row write: unlike BEGIN alone, it fails while the disk is full.

        The write alone proves little on a full disk: it lands in WAL space that the failed
        commits already allocated. So the file system must have room again first.
        """
        if self.free_bytes() < MIN_FREE_BYTES:
            raise StoreError(
                f"{self.path}: {os.strerror(errno.ENOSPC)} (still, on the database's file system)"
            )
        await self._writer.run(lambda c: writes.in_transaction(c, writes.probe))

    async def _delete(self, statement: str, params: Sequence[Any] = ()) -> int:
        """Run one DELETE of no events in its own transaction; returns the rows removed."""
        return await self._writer.run(lambda c: c.execute(statement, params).rowcount)

    async def _remove(self, statement: str, params: Sequence[Any]) -> int:
        return await self._writer.run(lambda c: writes.remove_events(c, statement, params))

    def free_bytes(self) -> int:
        """Space left for unprivileged writes on the database's file system."""
        stats = os.statvfs(self.path.parent)
        return stats.f_bavail * stats.f_frsize

    async def check_writable(self) -> None:
        await self._writer.run(lambda c: writes.in_transaction(c, lambda t: None))

    async def watch_commits(self, wake: Callable[[], None]) -> None:
        """One collector owns the file: its own writer wakes its streams."""

    async def expire(self, retention: Retention, now: datetime) -> int:
        """Age and size limits in small chunks; per-resource retention comes with each group
        (sqlite_aggregates)."""
        removed = 0
        if retention.max_age is not None:
            cutoff = time_to_ms(now - retention.max_age)
            while (deleted := await self._remove(sql.DELETE_OLDER_THAN, (cutoff, CHUNK))) > 0:
                removed += deleted
        if retention.max_bytes is not None:
            while await self.used_bytes() > retention.max_bytes:
                deleted = await self._remove(sql.DELETE_OLDEST, (CHUNK,))
                removed += deleted
                if deleted == 0:
                    break
        # Identities follow their events, heartbeats the oldest kept one (see sqlite_sql).
        await self._delete(sql.DELETE_UNUSED_IDENTITIES)
        await self._delete(sql.DELETE_OLD_HEARTBEATS)
        return removed

    async def start_run(self, collector: str, started_ms: int) -> None:
        await self._write(sql.INSERT_HEARTBEAT, (collector, started_ms, started_ms))

    async def beat(self, collector: str, started_ms: int, at_ms: int) -> None:
        await self._write(sql.UPDATE_HEARTBEAT, (at_ms, collector, started_ms))

    async def stop_run(self, collector: str, started_ms: int, at_ms: int) -> None:
        await self._write(sql.STOP_HEARTBEAT, (at_ms, at_ms, collector, started_ms))

    async def import_runs(self, runs: Sequence[Run]) -> None:
        rows = [astuple(run) for run in runs]
        await self._writer.run(
            lambda c: writes.in_transaction(c, lambda t: t.executemany(sql.IMPORT_HEARTBEAT, rows))
        )

    async def _write(self, statement: str, params: Sequence[Any]) -> None:
        await writes.mapped(
            self._writer.run(
                lambda c: writes.in_transaction(c, lambda t: t.execute(statement, params))
            )
        )

    async def import_rows(self, rows: Sequence[StoredRow]) -> None:
        def copy(connection: sqlite3.Connection) -> None:
            writes.insert_rows(connection, rows, with_ids=True)
            if rows:
                connection.execute(sql.LOWER_DERIVED_UP_TO, (min(row[0] for row in rows) - 1,))

        await self._writer.run(lambda c: writes.in_transaction(c, copy))

    async def save_derived(
        self,
        changes: Sequence[tuple[int, Ops]],
        judgements: Mapping[int, Judgement],
        up_to: int,
        provenance: Derived | None = None,
        outbox: Sequence[OutboxRow] = (),
    ) -> None:
        await self._writer.run(
            lambda c: writes.save_derived(c, changes, judgements, up_to, provenance, outbox)
        )

    async def claim_outbox(self, now_ms: int, until_ms: int, limit: int) -> list[OutboxItem]:
        def claim(transaction: sqlite3.Connection) -> list[OutboxItem]:
            rows = transaction.execute(sql.CLAIM_OUTBOX, (until_ms, now_ms, now_ms, limit))
            return [OutboxItem(*row) for row in rows.fetchall()]

        # A claim or a delivery lost with the power is made again: at worst a receiver gets an
        # item twice, with the same Idempotency-Key.
        return await self._writer.run(lambda c: writes.unflushed(c, claim))

    async def settle_outbox(self, settled: Sequence[Settled]) -> None:
        rows = [(s.state, s.attempts, s.due_ms, s.event_id, s.sink) for s in settled]
        await self._writer.run(
            lambda c: writes.unflushed(c, lambda t: t.executemany(sql.SETTLE_OUTBOX, rows))
        )

    async def outbox_backlog(self) -> list[Backlog]:
        return [Backlog(*row) for row in await self._fetch(sql.SELECT_OUTBOX_BACKLOG)]

    # -- reading -----------------------------------------------------------------------------

    def open_thread_reads(self) -> ThreadReads:
        return ThreadReads(self.path, self._handoff, self.gitops, self._files)

    @asynccontextmanager
    async def _reader(self) -> AsyncIterator[aiosqlite.Connection]:
        if self._files is not None:
            # A reader writes to the WAL index too (its read mark).
            self._files.check()
        connection = await self._readers.get()
        try:
            yield connection
        finally:
            self._readers.put_nowait(connection)

    async def _fetch(self, statement: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        async with self._reader() as connection:
            rows = await writes.mapped(connection.execute_fetchall(statement, params))
        return list(rows)  # a list already: aiosqlite's annotation says only Iterable

    async def used_bytes(self) -> int:
        """The database file's pages in use (free pages left by deletes are not counted)."""
        rows = await self._fetch(sql.SELECT_USED_BYTES)
        return int(rows[0][0])

    async def export_rows(self, after_id: int, limit: int) -> list[StoredRow]:
        return [tuple(row) for row in await self._fetch(sql.SELECT_EXPORT, (after_id, limit))]


async def _close_all(
    writer: writes.WriteThread | None, readers: list[aiosqlite.Connection]
) -> None:
    for reader in reversed(readers):
        await reader.close()
    if writer is not None:
        await writer.close()

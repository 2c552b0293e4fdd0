"""The embedded store: one SQLite file in WAL mode, one write connection, a few read connections.

Writes come only from `collector.writer.Writer` (group commit) and retention. The write
connection lives in a thread of its own and every write is one call into it: a group is
encoded, inserted and committed in a single hand-over from the event loop. Reads are served by
a small pool of read-only connections so queries never wait behind a commit.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import astuple
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import aiosqlite
import orjson

from logistis.collector.history.continuity import Ops
from logistis.collector.history.events import Event, time_to_ms
from logistis.collector.history.gitops import GitOpsSettings
from logistis.collector.history.judgements import Judgement
from logistis.collector.history.provenance import Derived
from logistis.collector.store import sqlite_sql as sql
from logistis.collector.store.codec import plain_size
from logistis.collector.store.handoff import HandOff
from logistis.collector.store.protocol import (
    Backlog,
    NotStored,
    OutboxItem,
    OutboxRow,
    Run,
    Settled,
    StoredRow,
    StoreError,
    Underived,
)
from logistis.collector.store.queries import (
    SQLQueries,
    judgement_rows,
    provenance_rows,
    summary_texts,
)
from logistis.collector.store.rows import BODY, USER_JSON, EncodedEvent, encoded, outcomes
from logistis.collector.store.sqlite_aggregates import Counted, count_in, count_out
from logistis.collector.store.sqlite_files import OpenedFiles
from logistis.collector.threads import worker

if TYPE_CHECKING:
    # Settings name the store; the store needs only the shape of the retention limits.
    from logistis.collector.store.protocol import Retention

log = logging.getLogger(__name__)

# Four: the facets run their four aggregates at once (SQLite runs them outside the GIL).
READERS = 4

# Room for the WAL to grow to its checkpoint size (1000 pages of 4 KiB) before recording resumes.
MIN_FREE_BYTES = 4 * 2**20
# Small chunks keep each retention transaction short, so admission commits never wait long.
CHUNK = 500

T = TypeVar("T")


class _WriteThread:
    """The write connection and the one thread that uses it: each call is a whole unit of work
    (a transaction, a retention DELETE), so no write waits on another's round trips."""

    def __init__(self, executor: ThreadPoolExecutor, connection: sqlite3.Connection) -> None:
        self._executor = executor
        self._connection = connection
        self.files: OpenedFiles | None = None
        """Checked before each call, once the store is open (sqlite_files)."""

    @classmethod
    async def open(cls, path: Path) -> _WriteThread:
        executor = worker("sqlite-writer")
        loop = asyncio.get_running_loop()
        try:
            connection = await loop.run_in_executor(
                executor, lambda: sqlite3.connect(path, isolation_level=None)
            )
        except BaseException:
            executor.shutdown(wait=False)
            raise
        return cls(executor, connection)

    async def run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        return await _mapped(
            asyncio.get_running_loop().run_in_executor(self._executor, self._checked, work)
        )

    def _checked(self, work: Callable[[sqlite3.Connection], T]) -> T:
        if self.files is not None:
            self.files.check()
        return work(self._connection)

    async def close(self) -> None:
        try:
            await _mapped(asyncio.get_running_loop().run_in_executor(self._executor, self._close))
        finally:
            self._executor.shutdown(wait=True)

    def _close(self) -> None:
        if self.files is not None:
            problem = self.files.problem()
            if problem is not None:
                log.error(
                    "closing the database as it is: its checkpoint may fail",
                    extra={"error": problem},
                )
            self.files.close()
        self._connection.close()


def _in_transaction(connection: sqlite3.Connection, work: Callable[[sqlite3.Connection], T]) -> T:
    try:
        # Inside the try: a transaction somehow left open makes BEGIN fail, and is rolled back
        # here instead of failing every commit after it.
        connection.execute("BEGIN IMMEDIATE")
        result = work(connection)
        connection.execute("COMMIT")
    except BaseException:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        raise
    return result


def _probe(transaction: sqlite3.Connection) -> None:
    """A write that changes a page (then changes it back): SQLite writes nothing, and so
    proves nothing, for an UPDATE that leaves the bytes as they were."""
    for statement in sql.PROBE_WRITE:
        transaction.execute(statement)


def insert_rows(
    connection: sqlite3.Connection, rows: Sequence[tuple[Any, ...]], *, with_ids: bool = False
) -> list[int]:
    """INSERT encoded events (or exported rows, their id first) and count them in the
    aggregates, inside the caller's transaction; returns their ids."""
    stored = rows if with_ids else _numbered(connection, rows)
    connection.executemany(sql.INSERT_IDENTITY, {(row[1 + USER_JSON],) for row in stored})
    connection.executemany(sql.INSERT_EVENT, stored)
    count_in(connection, stored)
    return [row[0] for row in stored]


def _numbered(
    connection: sqlite3.Connection, rows: Sequence[tuple[Any, ...]]
) -> list[tuple[Any, ...]]:
    """Encoded rows with their ids, the next ones (see SELECT_ID_BEFORE_GROUP)."""
    (last,) = connection.execute(sql.SELECT_ID_BEFORE_GROUP).fetchone()
    return [(last + number, *row) for number, row in enumerate(rows, start=1)]


def _remove(connection: sqlite3.Connection, statement: str, params: Sequence[Any]) -> int:
    """Run one retention DELETE and count its events out, in one transaction; returns how many
    it removed."""

    def remove(transaction: sqlite3.Connection) -> int:
        removed: list[Counted] = transaction.execute(statement, params).fetchall()
        count_out(transaction, removed)
        return len(removed)

    return _in_transaction(connection, remove)


# What one row can raise on its own (a value SQLite cannot bind, a constraint); a locked or
# full database (OperationalError) fails the whole group and is the writer's to handle.
ROW_ERRORS = (
    sqlite3.InterfaceError,
    sqlite3.ProgrammingError,
    sqlite3.IntegrityError,
    sqlite3.DataError,
    OverflowError,
    TypeError,
    ValueError,
)


def _insert_each(
    connection: sqlite3.Connection, rows: Sequence[tuple[Any, ...]]
) -> list[int | str]:
    """INSERT rows one by one, each under a savepoint: a row that fails is rolled back alone
    and its error returned in its place (its id for a stored row)."""
    stored: list[int | str] = []
    for row in rows:
        connection.execute("SAVEPOINT row")
        try:
            stored.extend(insert_rows(connection, [row]))
        except ROW_ERRORS as error:
            connection.execute("ROLLBACK TO row")
            stored.append(f"{type(error).__name__}: {error}")
        connection.execute("RELEASE row")
    return stored


def _record(
    connection: sqlite3.Connection, events: Sequence[Event]
) -> tuple[list[NotStored | None], list[int]]:
    """Each event's outcome, and the bytes of JSON of its objects (0 for one not encoded);
    a stored event is given its id."""
    # Without their change summaries: derived after the commit and updated in place.
    encoded_events = [encoded(event, derived=False) for event in events]
    rows = [e.row for e in encoded_events if isinstance(e, EncodedEvent)]
    stored: list[int | str] = []
    if rows:
        try:
            stored = _in_transaction(connection, lambda c: insert_rows(c, rows))
        except ROW_ERRORS:
            # One bad row fails the whole statement: find it, and commit the others, in one
            # more transaction (one fsync), rather than lose the group.
            stored = _in_transaction(connection, lambda c: _insert_each(c, rows))
    encoded_ok = (
        e for e, n in zip(events, encoded_events, strict=True) if isinstance(n, EncodedEvent)
    )
    for event, id_or_error in zip(encoded_ok, stored, strict=True):
        if isinstance(id_or_error, int):
            event.id = id_or_error
    sizes = [plain_size(e.row[BODY]) if isinstance(e, EncodedEvent) else 0 for e in encoded_events]
    row_errors = [None if isinstance(s, int) else s for s in stored]
    return outcomes(encoded_events, row_errors), sizes


def _save_derived(
    connection: sqlite3.Connection,
    changes: Sequence[tuple[int, Ops]],
    judgements: Mapping[int, Judgement],
    up_to: int,
    provenance: Derived | None,
    outbox: Sequence[OutboxRow],
) -> None:
    summaries = [(text, i) for i, text in summary_texts(changes)]
    kept, usual = judgement_rows(judgements)
    rows, decided = provenance_rows(provenance) if provenance else ([], [])

    def save(transaction: sqlite3.Connection) -> None:
        transaction.executemany(sql.UPSERT_PROVENANCE, rows)
        transaction.executemany(sql.DECIDE_HAND_EDIT, decided)
        transaction.executemany(sql.UPDATE_CHANGES, summaries)
        transaction.executemany(sql.UPSERT_JUDGEMENT, kept)
        if usual:
            transaction.execute(sql.DELETE_JUDGEMENTS, (orjson.dumps(usual).decode(),))
        transaction.execute(sql.SET_DERIVED_UP_TO, (up_to,))
        transaction.executemany(sql.QUEUE_OUTBOX, [(*row, row[3]) for row in outbox])

    # Not flushed before it returns: derived fields lost with the power are derived again (the
    # mark is lost with them), and the next commit group's fsync carries them to disk.
    _unflushed(connection, save)


def _unflushed(connection: sqlite3.Connection, work: Callable[[sqlite3.Connection], T]) -> T:
    """`work` in a transaction not flushed to disk before it returns (the next commit group's
    fsync carries it): for what can be done again after a power loss."""
    connection.execute("PRAGMA synchronous=NORMAL")
    try:
        return _in_transaction(connection, work)
    finally:
        connection.execute("PRAGMA synchronous=FULL")


class SQLiteStore(SQLQueries):
    _sql = sql
    # One write thread: a second group would only queue behind the first, gathering less.
    concurrent_commits = 1
    # Updated in place after the commit: the row grows, nothing else is written twice.
    derives_after_commit = True
    # A pass's save runs in the one write thread, between commit groups: a larger one makes
    # the next group wait longer (p99 at 500 reviews/s 7-9 -> 14 ms with 25 ms between passes).
    derive_spacing_seconds = 0.0

    def __init__(
        self,
        path: Path,
        writer: _WriteThread,
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
        cls, path: Path, *, max_events_per_resource: int = 100, gitops: GitOpsSettings | None = None
    ) -> AsyncIterator[SQLiteStore]:
        path.parent.mkdir(parents=True, exist_ok=True)
        writer: _WriteThread | None = None
        readers: list[aiosqlite.Connection] = []
        try:
            # Inside the try: a file SQLite cannot open at all is a StoreError like any other.
            writer = await _WriteThread.open(path)
            await writer.run(lambda c: _prepare_writer(c, path, max_events_per_resource))
            for _ in range(READERS):
                reader = await aiosqlite.connect(f"file:{path}?mode=ro", uri=True)
                readers.append(reader)
                for pragma in sql.PRAGMAS_READER:
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
        stored, sizes = await self._writer.run(lambda c: _record(c, events))
        self._handoff.keep(events, stored, sizes)
        return stored

    async def underived(self, after: int | None, limit: int) -> tuple[list[Underived], int, int]:
        events, start, newest = await super().underived(after, limit)
        return self._handoff.fill(events), start, newest

    async def probe_write(self) -> None:
        """Commit a one-row write: unlike BEGIN alone, it fails while the disk is full.

        The write alone proves little on a full disk: it lands in WAL space that the failed
        commits already allocated. So the file system must have room again first.
        """
        if self.free_bytes() < MIN_FREE_BYTES:
            raise StoreError(
                f"{self.path}: {os.strerror(errno.ENOSPC)} (still, on the database's file system)"
            )
        await self._writer.run(lambda c: _in_transaction(c, _probe))

    async def _delete(self, statement: str, params: Sequence[Any] = ()) -> int:
        """Run one DELETE of no events in its own transaction; returns the rows removed."""
        return await self._writer.run(lambda c: c.execute(statement, params).rowcount)

    async def _remove(self, statement: str, params: Sequence[Any]) -> int:
        return await self._writer.run(lambda c: _remove(c, statement, params))

    def free_bytes(self) -> int:
        """Space left for unprivileged writes on the database's file system."""
        stats = os.statvfs(self.path.parent)
        return stats.f_bavail * stats.f_frsize

    async def check_writable(self) -> None:
        await self._writer.run(lambda c: _in_transaction(c, lambda t: None))

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
            lambda c: _in_transaction(c, lambda t: t.executemany(sql.IMPORT_HEARTBEAT, rows))
        )

    async def _write(self, statement: str, params: Sequence[Any]) -> None:
        await _mapped(
            self._writer.run(lambda c: _in_transaction(c, lambda t: t.execute(statement, params)))
        )

    async def import_rows(self, rows: Sequence[StoredRow]) -> None:
        def copy(connection: sqlite3.Connection) -> None:
            insert_rows(connection, rows, with_ids=True)
            if rows:
                connection.execute(sql.LOWER_DERIVED_UP_TO, (min(row[0] for row in rows) - 1,))

        await self._writer.run(lambda c: _in_transaction(c, copy))

    async def save_derived(
        self,
        changes: Sequence[tuple[int, Ops]],
        judgements: Mapping[int, Judgement],
        up_to: int,
        provenance: Derived | None = None,
        outbox: Sequence[OutboxRow] = (),
    ) -> None:
        await self._writer.run(
            lambda c: _save_derived(c, changes, judgements, up_to, provenance, outbox)
        )

    async def claim_outbox(self, now_ms: int, until_ms: int, limit: int) -> list[OutboxItem]:
        def claim(transaction: sqlite3.Connection) -> list[OutboxItem]:
            rows = transaction.execute(sql.CLAIM_OUTBOX, (until_ms, now_ms, now_ms, limit))
            return [OutboxItem(*row) for row in rows.fetchall()]

        # A claim or a delivery lost with the power is made again: at worst a receiver gets an
        # item twice, with the same Idempotency-Key.
        return await self._writer.run(lambda c: _unflushed(c, claim))

    async def settle_outbox(self, settled: Sequence[Settled]) -> None:
        rows = [(s.state, s.attempts, s.due_ms, s.event_id, s.sink) for s in settled]
        await self._writer.run(
            lambda c: _unflushed(c, lambda t: t.executemany(sql.SETTLE_OUTBOX, rows))
        )

    async def outbox_backlog(self) -> list[Backlog]:
        return [Backlog(*row) for row in await self._fetch(sql.SELECT_OUTBOX_BACKLOG)]

    # -- reading -----------------------------------------------------------------------------

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
            return await _mapped(connection.execute_fetchall(statement, params))

    async def used_bytes(self) -> int:
        """The database file's pages in use (free pages left by deletes are not counted)."""
        rows = await self._fetch(sql.SELECT_USED_BYTES)
        return int(rows[0][0])

    async def export_rows(self, after_id: int, limit: int) -> list[StoredRow]:
        return [tuple(row) for row in await self._fetch(sql.SELECT_EXPORT, (after_id, limit))]


def _prepare_writer(connection: sqlite3.Connection, path: Path, max_per_resource: int) -> None:
    def value(statement: str) -> Any:
        row = connection.execute(statement).fetchone()
        return row[0] if row else 0

    application_id = value("PRAGMA application_id")
    version = value("PRAGMA user_version")
    # A file with no tables is new, unless another application has already stamped it.
    if (value("SELECT count(*) FROM sqlite_schema") or application_id) and (
        application_id != sql.APPLICATION_ID
    ):
        raise StoreError(f"{path}: not a logistis database (refusing to touch it)")
    if version > len(sql.MIGRATIONS):
        raise StoreError(
            f"{path}: schema version {version} is newer than this collector knows "
            f"({len(sql.MIGRATIONS)}); upgrade logistis"
        )
    for pragma in sql.PRAGMAS_WRITER:
        connection.execute(pragma)
    for number, script in enumerate(sql.MIGRATIONS[version:], start=version + 1):
        connection.executescript(f"BEGIN; {script}; PRAGMA user_version={number}; COMMIT;")
    connection.execute(sql.SET_MAX_PER_RESOURCE, (max_per_resource,))
    result = value("PRAGMA quick_check")
    if result != "ok":
        # quick_check lists its findings on several lines; the error stays one line.
        findings = "; ".join(line.strip("* ") for line in result.splitlines())
        raise StoreError(f"{path}: database is damaged ({findings})")


async def _close_all(writer: _WriteThread | None, readers: list[aiosqlite.Connection]) -> None:
    for reader in reversed(readers):
        await reader.close()
    if writer is not None:
        await writer.close()


async def _mapped(work: Awaitable[T]) -> T:
    """SQLite's errors as the collector's StoreError, once, at the store's edge."""
    try:
        return await work
    except sqlite3.Error as error:
        raise StoreError(str(error)) from error

"""What the SQLite store's write thread runs: each call one whole unit of work.

The write connection lives in a thread of its own (`WriteThread`) and every write is one call
into it: a commit group encoded, inserted and committed in a single hand-over from the event
loop (`record`), a retention DELETE with its aggregates counted out (`remove_events`), a pass of
the deriver saved (`save_derived`), the schema brought up to date on opening (`prepare`).
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import sqlite3
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import orjson

from logistis.collector.history.continuity import Ops
from logistis.collector.history.events import Event
from logistis.collector.history.judgements import Judgement
from logistis.collector.history.provenance import Derived
from logistis.collector.store import sqlite_schema as schema
from logistis.collector.store import sqlite_sql as sql
from logistis.collector.store.protocol import NotStored, OutboxRow, StoreError
from logistis.collector.store.queries import judgement_rows, provenance_rows, summary_texts
from logistis.collector.store.rows import USER_JSON, EncodedEvent, committed, encoded
from logistis.collector.store.sqlite_aggregates import Counted, count_in, count_out
from logistis.collector.store.sqlite_files import OpenedFiles
from logistis.collector.threads import worker

log = logging.getLogger(__name__)

T = TypeVar("T")


class WriteLock:
    """The database's writers one at a time, across processes: the collector's write thread
    and its deriver's process (`deriver_process.py`) each hold this lock for a unit of work.

    SQLite's own lock alone would keep them apart, but a writer that finds it taken sleeps and
    tries again (after 1, 2, 5, 10 ms...): a commit group that met a pass's save would wait
    milliseconds after the save ended. Waiting on this lock, it goes on the moment it is let go.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(f"{path}-write-lock")
        self._descriptor = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)

    @contextmanager
    def held(self) -> Iterator[None]:
        fcntl.flock(self._descriptor, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(self._descriptor, fcntl.LOCK_UN)

    def close(self) -> None:
        os.close(self._descriptor)


class WriteThread:
    """The write connection and the one thread that uses it: each call is a whole unit of work
    (a transaction, a retention DELETE), so no write waits on another's round trips."""

    def __init__(
        self, executor: ThreadPoolExecutor, connection: sqlite3.Connection, lock: WriteLock
    ) -> None:
        self._executor = executor
        self._connection = connection
        self._lock = lock
        self.files: OpenedFiles | None = None
        """Checked before each call, once the store is open (sqlite_files)."""

    @classmethod
    async def open(cls, path: Path) -> WriteThread:
        executor = worker("sqlite-writer")
        loop = asyncio.get_running_loop()
        try:
            lock = WriteLock(path)
        except OSError as error:
            executor.shutdown(wait=False)
            raise StoreError(f"{path}: the writers' lock: {error.strerror}") from error
        try:
            connection = await loop.run_in_executor(
                executor, lambda: sqlite3.connect(path, isolation_level=None)
            )
        except BaseException:
            lock.close()
            executor.shutdown(wait=False)
            raise
        return cls(executor, connection, lock)

    async def run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        return await mapped(
            asyncio.get_running_loop().run_in_executor(self._executor, self._checked, work)
        )

    def _checked(self, work: Callable[[sqlite3.Connection], T]) -> T:
        if self.files is not None:
            self.files.check()
        with self._lock.held():
            return work(self._connection)

    async def close(self) -> None:
        try:
            await mapped(asyncio.get_running_loop().run_in_executor(self._executor, self._close))
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
        self._lock.close()


def in_transaction(connection: sqlite3.Connection, work: Callable[[sqlite3.Connection], T]) -> T:
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


def probe(transaction: sqlite3.Connection) -> None:
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


def remove_events(connection: sqlite3.Connection, statement: str, params: Sequence[Any]) -> int:
    """Run one retention DELETE and count its events out, in one transaction; returns how many
    it removed."""

    def remove(transaction: sqlite3.Connection) -> int:
        removed: list[Counted] = transaction.execute(statement, params).fetchall()
        count_out(transaction, removed)
        return len(removed)

    return in_transaction(connection, remove)


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


def record(
    connection: sqlite3.Connection, events: Sequence[Event]
) -> tuple[list[NotStored | None], list[int]]:
    """Each event's outcome, and the bytes of JSON of its objects (0 for one not encoded);
    a stored event is given its id."""
    # Without their change summaries: derived after the commit and updated in place.
    encoded_events = [encoded(event, derived=False) for event in events]
    rows = [e.row for e in encoded_events if isinstance(e, EncodedEvent)]
    stored: Sequence[int | str] = []
    if rows:
        try:
            stored = in_transaction(connection, lambda c: insert_rows(c, rows))
        except ROW_ERRORS:
            # One bad row fails the whole statement: find it, and commit the others, in one
            # more transaction (one fsync), rather than lose the group.
            stored = in_transaction(connection, lambda c: _insert_each(c, rows))
    return committed(events, encoded_events, stored)


def save_derived(
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
    unflushed(connection, save)


def unflushed(connection: sqlite3.Connection, work: Callable[[sqlite3.Connection], T]) -> T:
    """`work` in a transaction not flushed to disk before it returns (the next commit group's
    fsync carries it): for what can be done again after a power loss."""
    connection.execute("PRAGMA synchronous=NORMAL")
    try:
        return in_transaction(connection, work)
    finally:
        connection.execute("PRAGMA synchronous=FULL")


def join(connection: sqlite3.Connection) -> None:
    """A second writer's connection to a database prepared already (`prepare`)."""
    for pragma in schema.PRAGMAS_WRITER:
        connection.execute(pragma)


def prepare(connection: sqlite3.Connection, path: Path, max_per_resource: int) -> None:
    def value(statement: str) -> Any:
        row = connection.execute(statement).fetchone()
        return row[0] if row else 0

    application_id = value("PRAGMA application_id")
    version = value("PRAGMA user_version")
    # A file with no tables is new, unless another application has already stamped it.
    if (value("SELECT count(*) FROM sqlite_schema") or application_id) and (
        application_id != schema.APPLICATION_ID
    ):
        raise StoreError(f"{path}: not a logistis database (refusing to touch it)")
    if version > len(schema.MIGRATIONS):
        raise StoreError(
            f"{path}: schema version {version} is newer than this collector knows "
            f"({len(schema.MIGRATIONS)}); upgrade logistis"
        )
    join(connection)
    for number, script in enumerate(schema.MIGRATIONS[version:], start=version + 1):
        connection.executescript(f"BEGIN; {script}; PRAGMA user_version={number}; COMMIT;")
    connection.execute(sql.SET_MAX_PER_RESOURCE, (max_per_resource,))
    result = value("PRAGMA quick_check")
    if result != "ok":
        # quick_check lists its findings on several lines; the error stays one line.
        findings = "; ".join(line.strip("* ") for line in result.splitlines())
        raise StoreError(f"{path}: database is damaged ({findings})")


async def mapped(work: Awaitable[T]) -> T:
    """SQLite's errors as the collector's StoreError, once, at the store's edge."""
    try:
        return await work
    except sqlite3.Error as error:
        raise StoreError(str(error)) from error

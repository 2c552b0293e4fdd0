"""The event store: one SQLite file in WAL mode, one write connection, a few read connections.

Writes come only from `collector.writer.Writer` (group commit) and retention. The write
connection lives in a thread of its own and every write is one call into it: a group is
encoded, inserted and committed in a single hand-over from the event loop. Reads are served by
a small pool of read-only connections so queries never wait behind a commit.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite
import orjson

from logistis.collector import codec, sql
from logistis.collector.changes import compute_changes
from logistis.collector.events import (
    Event,
    ResourceRef,
    UserInfo,
    format_time,
    time_from_ms,
    time_to_ms,
)
from logistis.collector.query import EventQuery, Page, encode_cursor

# Four: the facets run their four aggregates at once.
READERS = 4

T = TypeVar("T")


class StoreError(Exception):
    """The database cannot be opened or used; the message names the file."""


# Where the user's uid, groups and extra sit in an encoded row.
USER_JSON = 5


@dataclass(frozen=True, slots=True)
class EncodedEvent:
    """An event ready for INSERT: its columns, computed off the event loop."""

    row: tuple[Any, ...]


def encode_event(event: Event) -> EncodedEvent:
    """The event's INSERT row. Its change summary is computed here and kept on the event:
    the writer calls this in its encoding thread, off the event loop."""
    event.changes = compute_changes(event.operation, event.old_object, event.object)
    user = event.user
    return EncodedEvent(
        (
            _packed_uid(event.uid),
            time_to_ms(event.time),
            event.operation,
            int(event.dry_run),
            user.username,
            orjson.dumps([user.uid, list(user.groups), user.extra]).decode(),
            event.resource.group,
            event.resource.version,
            event.resource.kind,
            event.resource.resource,
            event.resource.subresource,
            event.namespace,
            event.name,
            event.field_manager,
            orjson.dumps(event.changes).decode(),
            codec.encode(event.object, event.old_object, event.options),
        )
    )


def _packed_uid(uid: str) -> str | bytes:
    """The apiserver's request uids are UUIDs: 16 bytes instead of 36 characters. Anything
    else (the API accepts any string) is kept as it came."""
    try:
        packed = uuid.UUID(uid)
    except ValueError:
        return uid
    return packed.bytes if str(packed) == uid else uid


def unpack_uid(stored: str | bytes) -> str:
    """A request uid as the apiserver sent it, from its column."""
    return stored if isinstance(stored, str) else str(uuid.UUID(bytes=stored))


@dataclass(frozen=True, slots=True)
class NotStored:
    """Why one event of a group was left out; the rest of its group is committed."""

    reason: str
    """`not encodable` or `not storable`: a metric label, so one of a few words."""
    error: str
    """What failed, for the log line that names the event."""


def _encoded(event: Event) -> EncodedEvent | NotStored:
    """An event that cannot be encoded (an object nested deeper than the JSON encoder goes, a
    value of a type the codec does not know) fails alone, never its group or the writer."""
    try:
        return encode_event(event)
    except Exception as error:  # noqa: BLE001 - whatever one event raises is that event's
        return NotStored("not encodable", f"{type(error).__name__}: {error}")


class _WriteThread:
    """The write connection and the one thread that uses it: each call is a whole unit of work
    (a transaction, a retention DELETE), so no write waits on another's round trips."""

    def __init__(self, executor: ThreadPoolExecutor, connection: sqlite3.Connection) -> None:
        self._executor = executor
        self._connection = connection

    @classmethod
    async def open(cls, path: Path) -> _WriteThread:
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-writer")
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
        return await asyncio.get_running_loop().run_in_executor(
            self._executor, work, self._connection
        )

    async def close(self) -> None:
        await self.run(sqlite3.Connection.close)
        self._executor.shutdown(wait=True)


def _in_transaction(
    connection: sqlite3.Connection, work: Callable[[sqlite3.Connection], Any]
) -> None:
    try:
        # Inside the try: a transaction somehow left open makes BEGIN fail, and is rolled back
        # here instead of failing every commit after it.
        connection.execute("BEGIN IMMEDIATE")
        work(connection)
        connection.execute("COMMIT")
    except BaseException:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        raise


def insert_rows(connection: sqlite3.Connection, rows: Sequence[tuple[Any, ...]]) -> None:
    """INSERT encoded events, inside the caller's transaction."""
    connection.executemany(sql.INSERT_IDENTITY, {(row[USER_JSON],) for row in rows})
    connection.executemany(sql.INSERT_EVENT, rows)


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
) -> list[str | None]:
    """INSERT rows one by one, each under a savepoint: a row that fails is rolled back alone
    and its error returned in its place (None for a stored row)."""
    errors: list[str | None] = []
    for row in rows:
        connection.execute("SAVEPOINT row")
        try:
            insert_rows(connection, [row])
        except ROW_ERRORS as error:
            connection.execute("ROLLBACK TO row")
            errors.append(f"{type(error).__name__}: {error}")
        else:
            errors.append(None)
        connection.execute("RELEASE row")
    return errors


def _record(connection: sqlite3.Connection, events: Sequence[Event]) -> list[NotStored | None]:
    encoded = [_encoded(event) for event in events]
    rows = [e.row for e in encoded if isinstance(e, EncodedEvent)]
    row_errors: list[str | None] = [None] * len(rows)
    if rows:
        try:
            _in_transaction(connection, lambda c: insert_rows(c, rows))
        except ROW_ERRORS:
            # One bad row fails the whole statement: find it, and commit the others, in one
            # more transaction (one fsync), rather than lose the group.
            row_errors = []
            _in_transaction(connection, lambda c: row_errors.extend(_insert_each(c, rows)))
    outcome: list[NotStored | None] = []
    rejected = iter(row_errors)
    for e in encoded:
        if isinstance(e, NotStored):
            outcome.append(e)
        else:
            error = next(rejected)
            outcome.append(None if error is None else NotStored("not storable", error))
    return outcome


class Store:
    def __init__(self, path: Path, writer: _WriteThread, readers: list[aiosqlite.Connection]):
        self.path = path
        self._writer = writer
        self._readers: asyncio.Queue[aiosqlite.Connection] = asyncio.Queue()
        for reader in readers:
            self._readers.put_nowait(reader)

    @classmethod
    @asynccontextmanager
    async def open(cls, path: Path, *, max_events_per_resource: int = 100) -> AsyncIterator[Store]:
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
        except sqlite3.DatabaseError as error:
            await _close_all(writer, readers)
            raise StoreError(f"{path}: {error}") from error
        except BaseException:
            await _close_all(writer, readers)
            raise
        try:
            yield cls(path, writer, readers)
        finally:
            await _close_all(writer, readers)

    # -- writing (the writer task and retention only) ------------------------------------------

    async def record(self, events: Sequence[Event]) -> list[NotStored | None]:
        """Encode the events and insert them in one transaction; returns once it is committed,
        with None for each stored event and why for each one left out (alone: the others of
        its group are committed)."""
        return await self._writer.run(lambda c: _record(c, events))

    async def probe_write(self) -> None:
        """Commit a one-row write: unlike BEGIN alone, it fails while the disk is full."""
        await self._writer.run(lambda c: _in_transaction(c, lambda t: t.execute(sql.PROBE_WRITE)))

    async def delete(self, statement: str, params: Sequence[Any]) -> int:
        """Run one retention DELETE in its own transaction; returns the rows removed."""
        return await self._writer.run(lambda c: c.execute(statement, params).rowcount)

    def free_bytes(self) -> int:
        """Space left for unprivileged writes on the database's file system."""
        stats = os.statvfs(self.path.parent)
        return stats.f_bavail * stats.f_frsize

    async def check_writable(self) -> None:
        await self._writer.run(lambda c: _in_transaction(c, lambda t: None))

    # -- reading -----------------------------------------------------------------------------

    @asynccontextmanager
    async def _reader(self) -> AsyncIterator[aiosqlite.Connection]:
        connection = await self._readers.get()
        try:
            yield connection
        finally:
            self._readers.put_nowait(connection)

    async def _fetch(self, statement: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        async with self._reader() as connection, connection.execute(statement, params) as cursor:
            return list(await cursor.fetchall())

    async def list_events(self, query: EventQuery, page: Page) -> tuple[list[Event], str | None]:
        extra = [("id < ?", [page.before_id])] if page.before_id is not None else []
        where, params = query.where(extra)
        rows = await self._fetch(
            f"{sql.SELECT_SUMMARIES} {where} ORDER BY id DESC LIMIT ?", [*params, page.limit + 1]
        )
        events = [_summary(row) for row in rows[: page.limit]]
        next_cursor = encode_cursor(events[-1].id) if len(rows) > page.limit else None
        return events, next_cursor

    async def events_after(self, after_id: int, query: EventQuery, limit: int) -> list[Event]:
        where, params = query.where([("id > ?", [after_id])])
        rows = await self._fetch(
            f"{sql.SELECT_SUMMARIES} {where} ORDER BY id LIMIT ?", [*params, limit]
        )
        return [_summary(row) for row in rows]

    async def get_event(self, event_id: int) -> Event | None:
        rows = await self._fetch(sql.SELECT_DETAIL, (event_id,))
        if not rows:
            return None
        event = _summary(rows[0])
        event.object, event.old_object, event.options = codec.decode(rows[0][-1])
        return event

    async def last_id(self) -> int:
        rows = await self._fetch(sql.SELECT_LAST_ID)
        return int(rows[0][0])

    async def known_kinds(self) -> dict[tuple[str, str], str]:
        rows = await self._fetch(sql.SELECT_KNOWN_KINDS)
        return {(grp, resource): kind for grp, resource, kind in rows}

    async def namespaces(self) -> list[dict[str, Any]]:
        # Both statements at once, on two read connections (SQLite runs them outside the GIL).
        counts, kind_rows = await asyncio.gather(
            self._fetch(sql.SELECT_NAMESPACES), self._fetch(sql.SELECT_NAMESPACE_KINDS)
        )
        kinds: dict[str, list[dict[str, Any]]] = {}
        for namespace, grp, kind, resource, count in kind_rows:
            kinds.setdefault(namespace, []).append(
                {"group": grp, "kind": kind, "resource": resource, "count": count}
            )
        return [
            {
                "namespace": namespace,
                "count": count,
                "lastTime": format_time(time_from_ms(last_time)) if last_time else None,
                "lastUser": last_user or "",
                "kinds": kinds.get(namespace, []),
            }
            for namespace, count, last_time, last_user in counts
        ]

    async def facets(self, query: EventQuery) -> dict[str, Any]:
        if query.needs_events:
            inner_where, params = query.where()
            source, where = sql.FACET_SOURCE_EVENTS.format(where=inner_where), ""
        else:
            source = sql.FACET_SOURCE_STATS
            where, params = query.where()

        async def facet(columns: str) -> list[sqlite3.Row]:
            statement = sql.SELECT_FACET.format(columns=columns, source=source, where=where)
            return await self._fetch(statement, params)

        # The four aggregates run at once, one per read connection.
        users, kinds, namespaces, operations = await asyncio.gather(
            facet("username"), facet("grp, resource, kind"), facet("namespace"), facet("operation")
        )
        return {
            "total": sum(n for _, n in users),
            "users": [
                {"value": u, "count": n, "machine": UserInfo(u).is_machine} for u, n in users
            ],
            "kinds": [{"group": g, "kind": k, "resource": r, "count": n} for g, r, k, n in kinds],
            "namespaces": [{"value": v, "count": n} for v, n in namespaces],
            "operations": [{"value": v, "count": n} for v, n in operations],
        }

    async def used_bytes(self) -> int:
        rows = await self._fetch(sql.SELECT_USED_BYTES)
        return int(rows[0][0])


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


def _summary(row: Sequence[Any]) -> Event:
    (event_id, uid, time_ms, operation, dry_run, username, user_json, grp, version, kind,
     resource, subresource, namespace, name, field_manager, changes) = row[:16]  # fmt: skip
    user_uid, groups, extra = orjson.loads(user_json)
    return Event(
        id=event_id,
        uid=unpack_uid(uid),
        time=time_from_ms(time_ms),
        operation=operation,
        dry_run=bool(dry_run),
        user=UserInfo(username, user_uid, tuple(groups), extra),
        resource=ResourceRef(grp, version, kind, resource, subresource),
        namespace=namespace,
        name=name,
        field_manager=field_manager,
        object=None,
        old_object=None,
        options=None,
        changes=orjson.loads(changes),
    )

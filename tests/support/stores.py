"""Both stores for the tests: which backends there are, and what one holds, read from outside
the collector (the SQLite file as the killed process left it, or the PostgreSQL database)."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
import time
from collections.abc import Iterator, Sequence
from typing import Any

import asyncpg
import orjson
import pytest

from logistis.collector.history.events import Event
from logistis.collector.store import (
    StoreURL,
    codec,
    encode_event,
    postgres_schema,
    sqlite_schema,
    unpack_uid,
)
from logistis.collector.store import postgres_sql as pg_sql
from logistis.collector.store import sqlite_sql as sql
from logistis.collector.store.postgres import _columns
from logistis.collector.store.postgres_functions import WRITE_LOCK
from logistis.collector.store.rows import USER_JSON
from logistis.collector.store.sqlite_writes import insert_rows
from logistis.collector.store.url import SQLITE
from tests.support.postgres import PSQL, PostgresServer, psql

BACKENDS = ("sqlite", "postgresql")

# The INSERT of SQLite schemas 3 to 6, whose triggers counted each event in the aggregates: kept
# here to write a database as they wrote it.
INSERT_EVENT_V6 = """
    INSERT INTO events (uid, time_ms, operation, dry_run, username, identity, user_json, grp,
                        version, kind, resource, subresource, namespace, name, field_manager,
                        changes, body)
    VALUES (?, ?, ?, ?, ?, (SELECT id FROM identities WHERE json = ?), '',
            ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
"""


def insert_as_schema_6(connection: sqlite3.Connection, rows: Sequence[tuple[Any, ...]]) -> None:
    """Encoded rows inserted into a SQLite store of schema 3 to 6, as it inserted them."""
    connection.executemany(sql.INSERT_IDENTITY, {(row[USER_JSON],) for row in rows})
    connection.executemany(INSERT_EVENT_V6, rows)


def backend_env(request: pytest.FixtureRequest) -> dict[str, str] | None:
    """For a fixture parametrized over BACKENDS: the environment of a collector on a fresh
    PostgreSQL database, or None for SQLite (the collector's default)."""
    if request.param == "sqlite":
        return None
    server: PostgresServer = request.getfixturevalue("postgres")
    return store_env(server.create_database())


def store_env(url: StoreURL) -> dict[str, str]:
    """The environment that points a collector at the store (never a flag: it may hold a
    password)."""
    return {"LOGISTIS_STORE": url.url}


def table_rows(url: StoreURL, statement: str) -> list[tuple[str, ...]]:
    """What a statement both databases understand returns, every value as text."""
    if url.backend == SQLITE:
        with contextlib.closing(sqlite3.connect(url.path)) as database:
            return [tuple(str(v) for v in row) for row in database.execute(statement)]
    return [tuple(line.split("|")) for line in psql(url.url, statement)]


def stored_bodies(url: StoreURL) -> list[bytes]:
    """Every event's objects as the store keeps them, decompressed (as JSON): what a scan of
    the database's files cannot see into."""
    hexed = "hex(body)" if url.backend == SQLITE else "encode(body, 'hex')"
    rows = table_rows(url, f"SELECT {hexed} FROM events")
    return [orjson.dumps(codec.decode(bytes.fromhex(blob))) for (blob,) in rows]


def stored_uids(url: StoreURL) -> set[str]:
    """Every request uid the store holds; the SQLite file is checked for damage first."""
    if url.backend == SQLITE:
        with contextlib.closing(sqlite3.connect(f"file:{url.path}?mode=ro", uri=True)) as database:
            assert database.execute("PRAGMA integrity_check").fetchone() == ("ok",)
            return {unpack_uid(uid) for (uid,) in database.execute("SELECT uid FROM events")}
    return set(psql(url.url, "SELECT coalesce(uid::text, uid_text) FROM events"))


@contextlib.contextmanager
def write_locked(url: StoreURL) -> Iterator[None]:
    """Another session holds what every commit of the store needs: SQLite's write lock (a
    backup, an operator's shell), or on PostgreSQL the commit groups' advisory lock."""
    if url.backend == SQLITE:
        holder = sqlite3.connect(url.path, isolation_level=None)
        try:
            holder.execute("BEGIN EXCLUSIVE")
            yield
            holder.execute("ROLLBACK")
        finally:
            holder.close()
        return
    with advisory_locked(url, WRITE_LOCK):
        yield


@contextlib.contextmanager
def advisory_locked(url: StoreURL, key: int) -> Iterator[None]:
    """Another PostgreSQL session holds the session-level advisory lock `key` meanwhile."""
    name = "logistis-test-lock"
    command = [
        str(PSQL),
        "-X",
        "-c",
        f"SELECT pg_advisory_lock({key}), pg_sleep(60)",
        url.url,
    ]
    holder = subprocess.Popen(
        command, env={**os.environ, "PGAPPNAME": name}, stdout=subprocess.DEVNULL
    )
    held = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
    try:
        while psql(url.url, held) == ["0"]:
            time.sleep(0.02)
        yield
    finally:
        psql(
            url.url,
            f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = '{name}'",
        )
        holder.wait(10)


DROP_INSIGHT_TABLES = (
    "DROP TABLE insight_activity; DROP TABLE insight_users; DROP TABLE insight_kinds;"
)
# The deriver's mark past every event recorded (by a collector that derived them).
SET_DERIVED = "UPDATE config SET value = (SELECT max(id) FROM events) WHERE key = 'derived_up_to'"


async def stored_at_schema(
    url: StoreURL, events: Sequence[Event], *, sqlite: int, postgres: int
) -> None:
    """The events recorded and derived by a collector of an older schema: SQLite's `sqlite`
    first migrations, PostgreSQL's `postgres` first."""
    rows = [encode_event(event).row for event in events]
    if url.backend == SQLITE:
        url.path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.closing(sqlite3.connect(url.path, isolation_level=None)) as connection:
            for number, script in enumerate(sqlite_schema.MIGRATIONS[:sqlite], start=1):
                connection.executescript(f"BEGIN; {script}; PRAGMA user_version={number}; COMMIT;")
            # Counted as that schema's collector counted them: the insights' counts (schema
            # 11) are not kept before it.
            older = (
                sqlite < sqlite_schema.MIGRATIONS.index(sqlite_schema.INSIGHT_COUNTS_MIGRATION) + 1
            )
            if older:
                connection.executescript(sqlite_schema.INSIGHT_TABLES)
            connection.execute("BEGIN")
            insert_rows(connection, rows)
            connection.execute(SET_DERIVED)
            connection.execute("COMMIT")
            if older:
                connection.executescript(DROP_INSIGHT_TABLES)
        return
    psql(
        url.url,
        "; ".join([postgres_schema.CREATE_SCHEMA_TABLE, *postgres_schema.MIGRATIONS[:postgres]]),
    )
    psql(url.url, f"INSERT INTO logistis_schema SELECT generate_series(1, {postgres})")
    connection = await asyncpg.connect(url.url)
    try:
        await connection.execute(pg_sql.RECORD, *_columns([(None, *row) for row in rows]))
        await connection.execute(SET_DERIVED)
    finally:
        await connection.close()

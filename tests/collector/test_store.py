"""What each store keeps and how: identities kept once, packed uids, databases written by an
older schema read after the upgrade, schema migrations and the order of ids with several
writers."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson

from logistis.collector.admission.kinds import KindResolver
from logistis.collector.admission.review import event_from_request
from logistis.collector.history import reading
from logistis.collector.history.events import Event
from logistis.collector.history.query import EventQuery, Page
from logistis.collector.pipeline.retention import enforce_once
from logistis.collector.store import (
    Store,
    StoreURL,
    encode_event,
    open_store,
    postgres_functions,
    postgres_schema,
    sqlite_schema,
)
from logistis.collector.store.protocol import Retention
from tests.collector.test_trust import derive_all
from tests.support.fixtures import bodies
from tests.support.postgres import PostgresServer, psql
from tests.support.stores import table_rows

# The INSERT of schema 2, before identities: kept here to write a database as it wrote them.
INSERT_EVENT_V2 = """
    INSERT INTO events (uid, time_ms, operation, dry_run, username, user_json, grp, version,
                        kind, resource, subresource, namespace, name, field_manager, changes, body)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
"""


# How the record function reads a resource's events beyond its limit (schema 8: in the order of
# events_by_identity), and the order by id alone of the schemas before.
TRIMMING_ORDER = ("ORDER BY e.namespace, e.name, e.resource, e.grp, e.id", "ORDER BY e.id")


def fixture_events(age: timedelta = timedelta(0)) -> list[Event]:
    kinds = KindResolver()
    moment = datetime.now(UTC) - age
    return [event_from_request(body["request"], moment, kinds) for body in bodies()]


def user_of(event: Event) -> tuple:
    return (event.user.username, event.user.uid, event.user.groups, event.user.extra)


def rows(path: Path, statement: str) -> list[tuple]:
    with contextlib.closing(sqlite3.connect(path)) as connection:
        return connection.execute(statement).fetchall()


async def all_stored(store: Store) -> list[Event]:
    events, _ = await reading.page(store, EventQuery(), Page(limit=1000))
    return events[::-1]


async def test_each_identity_is_stored_once_and_every_event_reads_its_own(store_url: StoreURL):
    events = fixture_events()
    async with open_store(store_url, max_events_per_resource=1000) as store:
        assert await store.record(events) == [None] * len(events)
        stored = await all_stored(store)
    assert [user_of(e) for e in stored] == [user_of(e) for e in events]
    distinct = {orjson.dumps([e.user.uid, list(e.user.groups), e.user.extra]) for e in events}
    assert len(table_rows(store_url, "SELECT id FROM identities")) == len(distinct)
    assert len(distinct) < len(events) / 5


def test_sqlite_events_name_their_identity_instead_of_holding_it(tmp_path: Path):
    path = tmp_path / "db.sqlite"
    asyncio.run(record_all(StoreURL.sqlite(path), fixture_events()))
    assert rows(path, "SELECT DISTINCT user_json FROM events") == [("",)]


async def record_all(url: StoreURL, events: list[Event]) -> None:
    async with open_store(url, max_events_per_resource=1000) as store:
        await store.record(events)


async def test_identities_leave_with_the_last_event_naming_them(store_url: StoreURL):
    async with open_store(store_url, max_events_per_resource=1000) as store:
        await store.record(fixture_events(age=timedelta(days=40)))
        alice = [e for e in fixture_events() if e.user.username == "alice"]
        await store.record(alice)
        await enforce_once(store, Retention(max_age=timedelta(days=30)))
        stored = await all_stored(store)
    assert [user_of(e) for e in stored] == [user_of(e) for e in alice]
    assert len(table_rows(store_url, "SELECT id FROM identities")) == 1


UIDS = ["0f6b1d5e-5d0c-4b8e-9a57-3c1e2f4a6b7d", "0F6B1D5E-5D0C-4B8E-9A57-3C1E2F4A6B7E",
        "review-1", ""]  # fmt: skip


async def test_request_uids_are_read_back_as_sent(store_url: StoreURL):
    template = fixture_events()[0]
    async with open_store(store_url) as store:
        await store.record([replace(template, uid=uid, name=f"n{i}") for i, uid in enumerate(UIDS)])
        assert [e.uid for e in await all_stored(store)] == UIDS


def test_sqlite_packs_request_uids_that_are_uuids(tmp_path: Path):
    path = tmp_path / "db.sqlite"
    template = fixture_events()[0]
    asyncio.run(record_all(StoreURL.sqlite(path), [replace(template, uid=u) for u in UIDS]))
    assert rows(path, "SELECT typeof(uid), length(uid) FROM events ORDER BY id") == [
        ("blob", 16), ("text", 36), ("text", 8), ("text", 0)
    ]  # fmt: skip


async def test_postgresql_keeps_request_uids_that_are_uuids_as_uuid(postgres: PostgresServer):
    url = postgres.create_database()
    template = fixture_events()[0]
    await record_all(url, [replace(template, uid=u) for u in UIDS])
    assert table_rows(url, "SELECT uid IS NOT NULL, uid_text FROM events ORDER BY id") == [
        ("t", ""), ("f", UIDS[1]), ("f", UIDS[2]), ("f", "")
    ]  # fmt: skip


async def test_postgresql_collectors_starting_at_once_migrate_the_schema_once(
    postgres: PostgresServer,
):
    url = postgres.create_database()

    async def start() -> int:
        async with open_store(url) as store:
            return await store.last_id()

    assert await asyncio.gather(*(start() for _ in range(4))) == [0] * 4
    versions = table_rows(url, "SELECT version FROM logistis_schema ORDER BY version")
    assert versions == [(str(n),) for n in range(1, len(postgres_schema.MIGRATIONS) + 1)]


async def test_postgresql_ids_become_visible_in_commit_order_with_two_writers(
    postgres: PostgresServer,
):
    """Two stores (two collectors) commit groups at once while a follower reads after the
    last id it has seen, as the stream does: it must see every event, in order, exactly once."""
    url = postgres.create_database()
    events = fixture_events()
    groups = 60

    async with open_store(url, max_events_per_resource=10**6) as a, open_store(url) as b:
        seen: list[int] = []
        done = asyncio.Event()

        async def write(store: Store, offset: int) -> None:
            for number in range(groups):
                chunk = [replace(e, name=f"w{offset}-{number}") for e in events[:5]]
                await store.record(chunk)

        async def follow() -> None:
            while True:
                finished = done.is_set()
                after = seen[-1] if seen else 0
                seen.extend(e.id for e in await a.events_after(after, EventQuery(), 1000))
                if finished:
                    return

        follower = asyncio.create_task(follow())
        await asyncio.gather(write(a, 0), write(b, 1))
        done.set()
        await follower
        everything = [e.id for e in await all_stored(a)]
    assert len(everything) == 2 * groups * 5
    assert seen == everything


async def test_a_sqlite_database_of_schema_2_is_upgraded_and_its_events_read_as_written(
    tmp_path: Path,
):
    path = tmp_path / "db.sqlite"
    old = fixture_events(age=timedelta(days=1))
    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as connection:
        connection.execute("PRAGMA journal_mode=WAL")
        for number, script in enumerate(sqlite_schema.MIGRATIONS[:2], start=1):
            connection.executescript(f"BEGIN; {script}; PRAGMA user_version={number}; COMMIT;")
        # Schema 2 kept the request uid as text.
        written = [(e.uid, *encode_event(e).row[1:]) for e in old]
        connection.executemany(INSERT_EVENT_V2, written)
    new = fixture_events()
    async with open_store(StoreURL.sqlite(path), max_events_per_resource=1000) as store:
        await store.record(new)
        stored = await all_stored(store)
        detail = await store.get_event(stored[0].id)
    assert [(e.uid, *user_of(e)) for e in stored] == [(e.uid, *user_of(e)) for e in old + new]
    assert detail is not None
    assert detail.object == old[0].object
    assert rows(path, "PRAGMA user_version") == [(len(sqlite_schema.MIGRATIONS),)]


async def test_a_postgresql_database_of_schema_6_is_upgraded_and_trims_and_judges_as_a_new_one(
    postgres: PostgresServer,
):
    events = [e for e in fixture_events() if not e.dry_run]
    fresh = postgres.create_database()
    async with open_store(fresh, max_events_per_resource=3) as store:
        await store.record(events)
        await derive_all(store)
        expected = [(e.uid, e.continuity, e.applied) for e in await all_stored(store)]
    upgraded = postgres.create_database()
    # Schema 6, its record function ordering the trimming by id alone (replaced by the upgrade
    # before any event is recorded).
    schema_6 = [
        *postgres_schema.MIGRATIONS[:6],
        postgres_functions.RECORD_FUNCTION.replace(*TRIMMING_ORDER),
    ]
    psql(upgraded.url, "; ".join([postgres_schema.CREATE_SCHEMA_TABLE, *schema_6]))
    psql(upgraded.url, "INSERT INTO logistis_schema SELECT generate_series(1, 6)")
    async with open_store(upgraded, max_events_per_resource=3) as store:
        await store.record(events)
        await derive_all(store)
        stored = [(e.uid, e.continuity, e.applied) for e in await all_stored(store)]
    assert stored == expected
    assert max(n for (n,) in table_rows(upgraded, "SELECT count FROM resources")) == "3"
    function = "SELECT pg_get_functiondef('logistis_record'::regproc)"
    assert TRIMMING_ORDER[0] in "".join(psql(upgraded.url, function))

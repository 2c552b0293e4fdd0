"""The store's own file format: identities kept once, packed uids, and databases written by
an older schema read after the upgrade."""

from __future__ import annotations

import contextlib
import sqlite3
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson

from logistis.collector import sql
from logistis.collector.admission import event_from_request
from logistis.collector.events import Event
from logistis.collector.kinds import KindResolver
from logistis.collector.query import EventQuery, Page
from logistis.collector.retention import enforce_once
from logistis.collector.settings import Retention
from logistis.collector.store import Store, encode_event
from tests.support.fixtures import bodies

# The INSERT of schema 2, before identities: kept here to write a database as it wrote them.
INSERT_EVENT_V2 = """
    INSERT INTO events (uid, time_ms, operation, dry_run, username, user_json, grp, version,
                        kind, resource, subresource, namespace, name, field_manager, changes, body)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
"""


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
    events, _ = await store.list_events(EventQuery(), Page(limit=1000))
    return events[::-1]


async def test_each_identity_is_stored_once_and_every_event_reads_its_own(tmp_path: Path):
    events = fixture_events()
    path = tmp_path / "db.sqlite"
    async with Store.open(path, max_events_per_resource=1000) as store:
        assert await store.record(events) == [None] * len(events)
        stored = await all_stored(store)
    assert [user_of(e) for e in stored] == [user_of(e) for e in events]
    distinct = {orjson.dumps([e.user.uid, list(e.user.groups), e.user.extra]) for e in events}
    assert len(rows(path, "SELECT id FROM identities")) == len(distinct) < len(events) / 5
    assert rows(path, "SELECT DISTINCT user_json FROM events") == [("",)]


async def test_identities_leave_with_the_last_event_naming_them(tmp_path: Path):
    path = tmp_path / "db.sqlite"
    async with Store.open(path, max_events_per_resource=1000) as store:
        await store.record(fixture_events(age=timedelta(days=40)))
        alice = [e for e in fixture_events() if e.user.username == "alice"]
        await store.record(alice)
        await enforce_once(store, Retention(max_age=timedelta(days=30)))
        stored = await all_stored(store)
    assert [user_of(e) for e in stored] == [user_of(e) for e in alice]
    assert len(rows(path, "SELECT id FROM identities")) == 1


async def test_request_uids_are_packed_when_they_are_uuids_and_read_back_as_sent(tmp_path: Path):
    template = fixture_events()[0]
    uids = ["0f6b1d5e-5d0c-4b8e-9a57-3c1e2f4a6b7d", "0F6B1D5E-5D0C-4B8E-9A57-3C1E2F4A6B7E",
            "review-1", ""]  # fmt: skip
    path = tmp_path / "db.sqlite"
    async with Store.open(path) as store:
        await store.record([replace(template, uid=uid, name=f"n{i}") for i, uid in enumerate(uids)])
        assert [e.uid for e in await all_stored(store)] == uids
    assert rows(path, "SELECT typeof(uid), length(uid) FROM events ORDER BY id") == [
        ("blob", 16), ("text", 36), ("text", 8), ("text", 0)
    ]  # fmt: skip


async def test_a_database_of_schema_2_is_upgraded_and_its_events_read_as_written(tmp_path: Path):
    path = tmp_path / "db.sqlite"
    old = fixture_events(age=timedelta(days=1))
    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as connection:
        connection.execute("PRAGMA journal_mode=WAL")
        for number, script in enumerate(sql.MIGRATIONS[:2], start=1):
            connection.executescript(f"BEGIN; {script}; PRAGMA user_version={number}; COMMIT;")
        # Schema 2 kept the request uid as text.
        written = [(e.uid, *encode_event(e).row[1:]) for e in old]
        connection.executemany(INSERT_EVENT_V2, written)
    new = fixture_events()
    async with Store.open(path, max_events_per_resource=1000) as store:
        await store.record(new)
        stored = await all_stored(store)
        detail = await store.get_event(stored[0].id)
    assert [(e.uid, *user_of(e)) for e in stored] == [(e.uid, *user_of(e)) for e in old + new]
    assert detail is not None
    assert detail.object == old[0].object
    assert rows(path, "PRAGMA user_version") == [(len(sql.MIGRATIONS),)]

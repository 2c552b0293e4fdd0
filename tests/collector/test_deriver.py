"""On both stores: events committed without their change summary (SQLite's commit groups; on
PostgreSQL, rows copied in by migrate-store from such a store) read exactly as if it were
stored, and the deriver fills it in: it catches up after a burst, and a collector stopped
before deriving derives on its next start."""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson

from logistis.collector.admission.kinds import KindResolver
from logistis.collector.admission.redaction import Redactor
from logistis.collector.admission.review import event_from_request, read_review
from logistis.collector.history import reading
from logistis.collector.history.changes import compute_changes
from logistis.collector.history.events import Event, json_value
from logistis.collector.history.query import EventQuery, Page
from logistis.collector.metrics import Metrics
from logistis.collector.pipeline.deriver import FAR_BEHIND_SECONDS, Deriver
from logistis.collector.pipeline.writer import CommitSignal
from logistis.collector.store import Store, StoreURL, encode_event, open_store
from logistis.collector.store.handoff import HandOff
from logistis.collector.store.protocol import Underived
from logistis.collector.store.url import SQLITE
from tests.collector.test_store import fixture_events
from tests.support.collector import CollectorProcess
from tests.support.fixtures import bodies
from tests.support.postgres import PostgresServer
from tests.support.stores import store_env, table_rows

UNDERIVED = "SELECT count(*) FROM events WHERE changes = ''"


def expected(events: list[Event]) -> dict[str, list[dict[str, str]]]:
    return {e.uid: compute_changes(e.operation, e.old_object, e.object) for e in events}


async def changes_read(store: Store) -> dict[str, list[dict[str, str]]]:
    """Every event's changes through the three reads: a page, the stream's, one event."""
    page, _ = await store.list_events(EventQuery(), Page(limit=1000))
    streamed = await store.events_after(0, EventQuery(), 1000)
    assert [(e.uid, e.changes) for e in streamed] == [(e.uid, e.changes) for e in page[::-1]]
    for summary in page[::10]:
        full = await store.get_event(summary.id)
        assert full is not None
        assert full.changes == summary.changes
    return {e.uid: e.changes for e in page}


def underived(url: StoreURL) -> int:
    return int(table_rows(url, UNDERIVED)[0][0])


async def commit_underived(store: Store, url: StoreURL, events: list[Event]) -> None:
    """Commit events without their change summaries: SQLite's commit groups store them so;
    PostgreSQL's carry them, and gets such rows copied in from a SQLite store."""
    if url.backend == SQLITE:
        assert await store.record(events) == [None] * len(events)
        return
    first = await store.last_id() + 1
    rows = [(first + n, *encode_event(e, derived=False).row) for n, e in enumerate(events)]
    await store.import_rows(rows)


async def test_events_read_before_deriving_carry_their_changes(store_url: StoreURL):
    events = fixture_events()
    async with open_store(store_url, max_events_per_resource=1000) as store:
        await commit_underived(store, store_url, events)
        # Committed raw: not one summary derived yet, and every read has them right.
        assert underived(store_url) == len(events)
        assert await changes_read(store) == expected(events)
        deriver = Deriver(store, CommitSignal(), Metrics())
        while not await deriver.derive_once():
            pass
        assert underived(store_url) == 0
        assert await changes_read(store) == expected(events)


async def test_the_deriver_catches_up_after_a_burst(tmp_path: Path):
    # SQLite's deriver follows the commits (PostgreSQL's groups carry their summaries: its
    # deriver catches up once at start, as the next test shows).
    store_url = StoreURL.sqlite(tmp_path / "db.sqlite")
    templates = fixture_events()
    burst = [replace(e, uid=f"{round_}-{e.uid}") for round_ in range(4) for e in templates]
    metrics = Metrics()
    async with open_store(store_url, max_events_per_resource=10_000) as store:
        signal = CommitSignal()
        deriver = Deriver(store, signal, metrics)
        deriver.start()
        try:
            # Groups committed faster than it derives; each commit wakes it, as the writer's do.
            for start in range(0, len(burst), 16):
                await store.record(burst[start : start + 16])
                signal.fire()
            for _ in range(1200):  # up to a minute on a busy machine
                if not underived(store_url):
                    break
                await asyncio.sleep(0.05)
            assert underived(store_url) == 0
            assert await changes_read(store) == expected(burst)
        finally:
            await deriver.close()
    sample = metrics.registry.get_sample_value
    assert sample("logistis_events_underived") == 0
    assert sample("logistis_derive_lag_seconds_count") == len(burst)


def test_a_collector_stopped_before_deriving_derives_on_its_next_start(
    tmp_path: Path, store_url: StoreURL
):
    events = fixture_events()

    async def record_only() -> None:
        # What a collector killed between its commits and their deriving leaves behind.
        async with open_store(store_url, max_events_per_resource=1000) as store:
            await commit_underived(store, store_url, events)

    asyncio.run(record_only())
    assert underived(store_url) == len(events)
    with CollectorProcess(tmp_path / "data", env=store_env(store_url)) as collector:
        deadline = time.monotonic() + 30
        while underived(store_url) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert underived(store_url) == 0
        listed = collector.client().get("/api/v1/events", params={"limit": 1000}).json()
    assert {e["uid"]: e["changes"] for e in listed["items"]} == expected(events)


async def test_postgresql_commit_groups_carry_their_change_summaries(postgres: PostgresServer):
    url = postgres.create_database()
    events = fixture_events()
    async with open_store(url, max_events_per_resource=1000) as store:
        assert await store.record(events) == [None] * len(events)
        assert underived(url) == 0
        assert await changes_read(store) == expected(events)


def large_update(number: int) -> Event:
    """A ConfigMap UPDATE whose 60,000 keys all change: 1.8 MB of JSON in each object."""
    base = next(
        e for e in fixture_events() if e.operation == "UPDATE" and e.resource.kind == "ConfigMap"
    )
    old, new = (
        {**obj, "data": {f"key-{i:05d}": f"value-{number + n}-{i}" for i in range(60_000)}}
        for n, obj in enumerate((base.old_object, base.object))
    )
    return replace(base, uid=f"large-{number}", old_object=old, object=new)


async def test_a_pass_holds_large_objects_by_their_size_not_their_number(store_url: StoreURL):
    events = [large_update(n) for n in range(3)]
    metrics = Metrics()
    async with open_store(store_url, max_events_per_resource=1000) as store:
        await commit_underived(store, store_url, events)
        deriver = Deriver(store, CommitSignal(), metrics)
        # 3.6 MB of JSON each: two fit in one pass's 8 MiB, where 64 events were taken before.
        assert not await deriver.derive_once()
        assert underived(store_url) == 1
        while not await deriver.derive_once():
            pass
        assert underived(store_url) == 0
        read = await changes_read(store)
    assert read == expected(events)
    assert all({"op": "replace", "path": "/data", "count": 60_000} in c for c in read.values())
    assert metrics.registry.get_sample_value("logistis_events_underived") == 0


async def test_a_deriver_far_behind_says_so_until_it_catches_up(tmp_path: Path):
    store_url = StoreURL.sqlite(tmp_path / "db.sqlite")
    # More than a pass of events, committed two minutes ago and never derived.
    events = fixture_events(age=timedelta(minutes=2))
    metrics = Metrics()
    async with open_store(store_url, max_events_per_resource=1000) as store:
        await commit_underived(store, store_url, events)
        deriver = Deriver(store, CommitSignal(), metrics)
        assert deriver.behind_seconds() == 0
        assert not await deriver.derive_once()
        assert deriver.behind_seconds() > FAR_BEHIND_SECONDS
        assert metrics.registry.get_sample_value("logistis_derive_behind_seconds") > 60
        while not await deriver.derive_once():
            pass
        assert metrics.registry.get_sample_value("logistis_derive_behind_seconds") == 0


def raw_fixture_events() -> list[Event]:
    """The captured reviews as the webhook turns them into events: objects still the JSON
    they came in, but where redaction decoded them; twice, so outcomes have events after."""
    kinds, redactor, moment = KindResolver(), Redactor(b"key"), datetime(2026, 12, 6, tzinfo=UTC)
    requests = [redactor.redact(read_review(orjson.dumps(b)).request) for b in bodies() * 2]
    return [
        replace(event_from_request(r, moment, kinds), uid=f"{n}-{r['uid']}")
        for n, r in enumerate(requests)
    ]


async def derived_history(path: Path, *, restart: bool) -> tuple[list, int]:
    """Every event summary once the deriver caught up, and how many events it was given
    with their objects in hand: derived by the process that committed them, or after a
    `restart` (nothing in hand, every body read back)."""
    store_url = StoreURL.sqlite(path)
    async with contextlib.AsyncExitStack() as stack:
        store = await stack.enter_async_context(open_store(store_url, max_events_per_resource=1000))
        assert set(await store.record(raw_fixture_events())) == {None}
        if restart:
            await stack.aclose()
            store = await stack.enter_async_context(open_store(store_url))
        read = store.underived
        given: list[Underived] = []

        async def seen(after: int | None, limit: int) -> tuple[list[Underived], int, int]:
            events, start, newest = await read(after, limit)
            given.extend(events)
            return events, start, newest

        store.underived = seen  # type: ignore[method-assign]
        deriver = Deriver(store, CommitSignal(), Metrics())
        while not await deriver.derive_once():
            pass
        page, _ = await reading.page(store, EventQuery(), Page(limit=1000))
        return [e.summary() for e in page], sum(e.in_hand for e in given)


async def test_sqlite_commit_groups_hand_their_objects_to_the_deriver(tmp_path: Path):
    """The events of a commit group reach the deriver with their objects in hand (no body
    decoded again), and derive exactly as those read back from the store after a restart."""
    handed, in_hand = await derived_history(tmp_path / "handed.sqlite", restart=False)
    read_back, none = await derived_history(tmp_path / "read.sqlite", restart=True)
    assert in_hand == len(handed)
    assert none == 0
    assert handed == read_back


def test_the_hand_off_holds_what_fits_in_its_bytes_and_lets_go_of_what_was_read():
    events = raw_fixture_events()[:10]
    for number, event in enumerate(events, start=1):
        event.id = number
    hand_off = HandOff(budget=350)
    hand_off.keep(events, [None] * 10, [100] * 10)
    stored = (None, None)
    read = [Underived(e.id, 0, e.operation, "", False, 0, lambda: stored, None) for e in events]
    first = hand_off.fill(read[:2])
    assert [e.in_hand for e in first] == [True, True]
    # As values, whether they came in as the review's JSON or not.
    assert first[0].objects() == (json_value(events[0].old_object), json_value(events[0].object))
    # Three fitted; the first two were read, the third is still held, the rest never were.
    assert [e.in_hand for e in hand_off.fill(read[2:])] == [True] + [False] * 7
    assert hand_off.fill(read[2:3])[0].objects() == stored

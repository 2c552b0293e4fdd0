"""On both stores: events committed without their change summary (SQLite's commit groups; on
PostgreSQL, rows copied in by migrate-store from such a store) read exactly as if it were
stored, and the deriver fills it in: it catches up after a burst, and a collector stopped
before deriving derives on its next start."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import orjson
import pytest

from logistis.collector.admission.kinds import KindResolver
from logistis.collector.admission.redaction import Redactor
from logistis.collector.admission.review import event_from_request, read_review
from logistis.collector.history import reading
from logistis.collector.history.changes import compute_changes
from logistis.collector.history.events import Event, json_value
from logistis.collector.history.query import EventQuery, Page
from logistis.collector.metrics import Metrics
from logistis.collector.pipeline.deriver import (
    BUSY_PASS,
    FAR_BEHIND_SECONDS,
    RECENT_BYTES,
    Deriver,
    Spacing,
)
from logistis.collector.pipeline.progress import Progress
from logistis.collector.pipeline.writer import CommitSignal
from logistis.collector.store import Store, StoreURL, encode_event, open_store, postgres_schema
from logistis.collector.store import postgres_sql as pg_sql
from logistis.collector.store.handoff import HandOff
from logistis.collector.store.postgres import _columns
from logistis.collector.store.protocol import PassReads, Underived
from logistis.collector.store.sqlite import SQLiteStore
from logistis.collector.store.sqlite_files import OpenedFiles
from logistis.collector.store.sqlite_thread_reads import ThreadReads
from logistis.collector.store.url import SQLITE
from tests.collector.test_store import fixture_events
from tests.support.collector import CollectorProcess
from tests.support.fixtures import bodies
from tests.support.postgres import PostgresServer, psql
from tests.support.stores import store_env, stored_at_schema, table_rows

UNDERIVED = "SELECT count(*) FROM events WHERE changes = ''"
# The deriver's mark back before every event: all of them left for it to derive.
SET_UNDERIVED = "UPDATE config SET value = 0 WHERE key = 'derived_up_to'"


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
        deriver = Deriver(store, CommitSignal(), Progress(Metrics()))
        while not await deriver.derive_once():
            pass
        assert underived(store_url) == 0
        assert await changes_read(store) == expected(events)


async def test_a_sqlite_pass_reads_in_the_deriver_thread_and_never_on_the_event_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """On SQLite a pass runs whole in the deriver's thread, on reads of its own there: not one
    statement of it goes through the event loop's read pool, and it derives as before."""
    events = fixture_events()
    store_url = StoreURL.sqlite(tmp_path / "db.sqlite")
    read_where: list[str] = []
    pooled = SQLiteStore._fetch
    in_thread = ThreadReads._fetch

    async def pool_read(self: SQLiteStore, *args: Any) -> Any:
        read_where.append("event loop")
        return await pooled(self, *args)

    async def thread_read(self: ThreadReads, *args: Any) -> Any:
        read_where.append(threading.current_thread().name)
        return await in_thread(self, *args)

    monkeypatch.setattr(SQLiteStore, "_fetch", pool_read)
    monkeypatch.setattr(ThreadReads, "_fetch", thread_read)
    async with open_store(store_url, max_events_per_resource=1000) as store:
        await commit_underived(store, store_url, events)
        deriver = Deriver(store, CommitSignal(), Progress(Metrics()))
        while not await deriver.derive_once():
            pass
        passes = set(read_where)
        await deriver.close()
        await deriver.close()  # again: nothing more
        assert underived(store_url) == 0
        assert await changes_read(store) == expected(events)
    assert len(passes) == 1
    assert passes.pop().startswith("deriver")


async def test_a_sqlite_pass_reads_one_snapshot_and_checks_the_files_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """The reads of a pass see the history as it was at the first of them (a group committed
    meanwhile waits for the next pass), and the files are checked once for all of them."""
    events = fixture_events()
    store_url = StoreURL.sqlite(tmp_path / "db.sqlite")
    checks: list[str] = []
    check = OpenedFiles.check

    def counted(self: OpenedFiles) -> None:
        checks.append(threading.current_thread().name)
        check(self)

    async with open_store(store_url, max_events_per_resource=1000) as store:
        assert isinstance(store, SQLiteStore)
        await commit_underived(store, store_url, events[:10])
        reads = store.open_thread_reads()
        with reads.snapshot():
            seen = await reads.last_id()
            await commit_underived(store, store_url, events[10:20])
            assert await reads.last_id() == seen
            _, _, newest = await reads.underived(None, 100)
            assert newest == seen
        assert await reads.last_id() == seen + 10
        reads.close()

        monkeypatch.setattr(OpenedFiles, "check", counted)
        deriver = Deriver(store, CommitSignal(), Progress(Metrics()))
        assert await deriver.derive_once()
        await deriver.close()
    assert len([name for name in checks if name.startswith("deriver")]) == 1


async def test_the_deriver_catches_up_after_a_burst(tmp_path: Path):
    # SQLite's deriver follows the commits (PostgreSQL's groups carry their summaries: its
    # deriver catches up once at start, as the next test shows).
    store_url = StoreURL.sqlite(tmp_path / "db.sqlite")
    templates = fixture_events()
    burst = [replace(e, uid=f"{round_}-{e.uid}") for round_ in range(4) for e in templates]
    metrics = Metrics()
    async with open_store(store_url, max_events_per_resource=10_000) as store:
        signal = CommitSignal()
        deriver = Deriver(store, signal, Progress(metrics))
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


def test_the_pause_between_passes_stretches_while_they_come_busy_and_shrinks_back():
    spacing = Spacing(0.01, 0.04)
    stretched = []
    for _ in range(4):
        spacing.passed(BUSY_PASS)
        stretched.append(spacing.seconds)
    assert stretched == [0.02, 0.04, 0.04, 0.04]
    # A pass between half as busy and busy keeps the pause as it is.
    spacing.passed(BUSY_PASS // 2)
    assert spacing.seconds == 0.04
    shrunk = []
    for _ in range(3):
        spacing.passed(1)
        shrunk.append(spacing.seconds)
    assert shrunk == [0.02, 0.01, 0.01]
    # A store whose most is its least never stretches.
    fixed = Spacing(0.025, 0.025)
    fixed.passed(64)
    assert fixed.seconds == 0.025


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
        deriver = Deriver(store, CommitSignal(), Progress(metrics))
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


async def test_the_steps_kept_for_the_next_pass_fit_in_their_bytes(tmp_path: Path):
    # 3.6 MB of JSON each: the window of steps kept for the next pass's judgements holds the
    # two newest (7.2 MB of its 8 MiB), never the three.
    store_url = StoreURL.sqlite(tmp_path / "db.sqlite")
    events = [large_update(n) for n in range(3)]
    async with open_store(store_url, max_events_per_resource=1000) as store:
        await commit_underived(store, store_url, events)  # ids 1, 2, 3 in a new file
        deriver = Deriver(store, CommitSignal(), Progress(Metrics()))
        while not await deriver.derive_once():
            pass
        await deriver.close()
    kept = deriver._recent_sizes
    assert list(deriver._recent) == list(kept) == [2, 3]
    assert deriver._recent_bytes == sum(kept.values()) <= RECENT_BYTES


async def test_a_deriver_far_behind_says_so_until_it_catches_up(tmp_path: Path):
    store_url = StoreURL.sqlite(tmp_path / "db.sqlite")
    # More than a pass of events, committed two minutes ago and never derived.
    events = fixture_events(age=timedelta(minutes=2))
    metrics = Metrics()
    async with open_store(store_url, max_events_per_resource=1000) as store:
        await commit_underived(store, store_url, events)
        progress = Progress(metrics)
        deriver = Deriver(store, CommitSignal(), progress)
        assert progress.behind_seconds() == 0
        assert not await deriver.derive_once()
        assert progress.behind_seconds() > FAR_BEHIND_SECONDS
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


async def derived_history(
    store_url: StoreURL, events: list[Event], *, restart: bool
) -> tuple[list, int]:
    """Every event summary once the deriver caught up, and how many events it was given
    with their objects in hand: derived by the process that committed them, or after a
    `restart` (nothing in hand, every body read back)."""
    async with contextlib.AsyncExitStack() as stack:
        store = await stack.enter_async_context(open_store(store_url, max_events_per_resource=1000))
        assert set(await store.record(events)) == {None}
        if restart:
            await stack.aclose()
            store = await stack.enter_async_context(open_store(store_url))
        given = watch_underived(store)
        deriver = Deriver(store, CommitSignal(), Progress(Metrics()))
        while not await deriver.derive_once():
            pass
        page, _ = await reading.page(store, EventQuery(), Page(limit=1000))
        return [e.summary() for e in page], sum(e.in_hand for e in given)


def watch_underived(store: Store) -> list[Underived]:
    """Every event the store's deriver read gives from now on, as the deriver gets it (on
    SQLite the deriver reads in its own thread, on reads the store opens for it there)."""
    given: list[Underived] = []

    def watched(reads: PassReads) -> None:
        read = reads.underived

        async def seen(after: int | None, limit: int) -> tuple[list[Underived], int, int]:
            events, start, newest = await read(after, limit)
            given.extend(events)
            return events, start, newest

        reads.underived = seen  # type: ignore[method-assign]

    watched(store)
    open_reads = store.open_thread_reads

    def opened() -> ThreadReads | None:
        reads = open_reads()
        if reads is not None:
            watched(reads)
        return reads

    store.open_thread_reads = opened  # type: ignore[method-assign]
    return given


def another_store(store_url: StoreURL, request: pytest.FixtureRequest, tmp_path: Path) -> StoreURL:
    """A second empty store of the same backend."""
    if store_url.backend == SQLITE:
        return StoreURL.sqlite(tmp_path / "another.sqlite")
    server: PostgresServer = request.getfixturevalue("postgres")
    return server.create_database()


async def test_commit_groups_hand_their_objects_to_the_deriver(
    store_url: StoreURL, request: pytest.FixtureRequest, tmp_path: Path
):
    """On both stores, the events of a commit group reach the deriver with their objects in
    hand (no body decoded again), and derive exactly as those read back from the store after
    a restart."""
    handed, in_hand = await derived_history(store_url, raw_fixture_events(), restart=False)
    read_url = another_store(store_url, request, tmp_path)
    read_back, none = await derived_history(read_url, raw_fixture_events(), restart=True)
    assert in_hand == len(handed)
    assert none == 0
    assert handed == read_back


async def test_each_event_of_a_group_is_handed_on_under_the_id_it_was_stored_with(
    store_url: StoreURL,
):
    """A row the store refuses (a value no column can bind) leaves the ids of the others as
    their commit gave them: each stored event reaches the deriver with its own objects."""
    events = raw_fixture_events()[:12]
    refused = {3, 7}
    group = [replace(e, field_manager=2**64) if n in refused else e for n, e in enumerate(events)]
    async with open_store(store_url, max_events_per_resource=1000) as store:
        outcomes = await store.record(group)
        assert [n for n, outcome in enumerate(outcomes) if outcome is not None] == sorted(refused)
        kept = [e for n, e in enumerate(group) if n not in refused]
        stored = await store.get_events([e.id for e in kept])
        assert [(e.id, e.uid) for e in stored] == [(e.id, e.uid) for e in kept]
        read, _, _ = await store.underived(None, 64)
    assert [(e.id, e.in_hand) for e in read] == [(e.id, True) for e in kept]
    assert [e.objects() for e in read] == [(e.old_object, e.object) for e in stored]


async def test_a_store_whose_commits_another_process_derives_holds_nothing_for_it(
    store_url: StoreURL,
):
    """A webhook worker's store (`--workers` on PostgreSQL): no deriver runs beside it, so its
    commit groups' objects are not kept for one."""
    events = raw_fixture_events()[:20]
    async with open_store(store_url, max_events_per_resource=1000, derives=False) as store:
        assert set(await store.record(events)) == {None}
        read, _, _ = await store.underived(None, 64)
    assert [e.in_hand for e in read] == [False] * len(events)


async def test_a_postgresql_database_of_schema_11_hands_its_new_groups_to_the_deriver(
    postgres: PostgresServer,
):
    """Upgraded from the schema before its commit statement returned ids: the events stored
    before are read back, the groups committed after are handed on, and every event derives
    as on a database made new."""
    old, new = raw_fixture_events()[:100], raw_fixture_events()[100:]
    upgraded = postgres.create_database()
    await stored_at_schema(upgraded, old, sqlite=0, postgres=11)
    psql(upgraded.url, SET_UNDERIVED)
    async with open_store(upgraded, max_events_per_resource=1000) as store:
        assert set(await store.record(new)) == {None}
        given = watch_underived(store)
        deriver = Deriver(store, CommitSignal(), Progress(Metrics()))
        while not await deriver.derive_once():
            pass
        page, _ = await reading.page(store, EventQuery(), Page(limit=1000))
    assert table_rows(upgraded, "SELECT max(version) FROM logistis_schema") == [
        (str(len(postgres_schema.MIGRATIONS)),)
    ]
    assert [e.in_hand for e in given] == [False] * len(old) + [True] * len(new)
    fresh, _ = await derived_history(
        postgres.create_database(), raw_fixture_events(), restart=False
    )
    assert [e.summary() for e in page] == fresh


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


async def test_a_collector_of_schema_11_records_as_before_beside_an_upgraded_one(
    postgres: PostgresServer,
):
    """A rolling upgrade: the commit statement of a collector of the previous schema, prepared
    on its connection before the upgrade replaced the function, still records its groups."""
    first, second = raw_fixture_events()[:20], raw_fixture_events()[20:40]
    upgraded = postgres.create_database()
    await stored_at_schema(upgraded, first[:5], sqlite=0, postgres=11)
    older = await asyncpg.connect(upgraded.url)
    try:
        rows = [(None, *encode_event(e).row) for e in first[5:]]
        await older.execute(pg_sql.RECORD, *_columns(rows))
        async with open_store(upgraded, max_events_per_resource=1000) as store:
            await older.execute(
                pg_sql.RECORD, *_columns([(None, *encode_event(e).row) for e in second])
            )
            stored = await store.get_events(list(range(1, 41)))
    finally:
        await older.close()
    assert [e.uid for e in stored] == [e.uid for e in first + second]

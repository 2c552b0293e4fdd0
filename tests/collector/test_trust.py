"""Continuity and outcome through the store and the API: judged by the deriver after the
commit and kept when unusual, judged on demand for events it has not reached, the same either
way."""

from __future__ import annotations

import contextlib
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from logistis.collector.admission import event_from_request
from logistis.collector.deriver import Deriver
from logistis.collector.events import Event
from logistis.collector.kinds import KindResolver
from logistis.collector.metrics import Metrics
from logistis.collector.query import EventQuery, Page
from logistis.collector.store import Store, StoreURL, encode_event, open_store
from logistis.collector.store import sqlite_sql as sql
from logistis.collector.writer import CommitSignal
from tests.collector.test_recording import all_events
from tests.support.fixtures import fixture_files, load
from tests.support.stores import insert_as_schema_6, table_rows

NGINX = EventQuery(names=("nginx",), kinds=("Deployment",))
EVERYTHING = EventQuery()


def events(numbers: list[int]) -> list[Event]:
    kinds = KindResolver()
    moment = datetime.now(UTC)
    return [event_from_request(load(n)["body"]["request"], moment, kinds) for n in numbers]


def numbers_until(last: int, *, left_out: tuple[int, ...] = ()) -> list[int]:
    found = [int(p.name[:3]) for p in fixture_files()]
    return [n for n in found if n <= last and n not in left_out and not is_dry_run(n)]


def is_dry_run(number: int) -> bool:
    return load(number)["body"]["request"]["dryRun"]


async def by_uid(store: Store, query: EventQuery = EVERYTHING) -> dict[str, Event]:
    listed, _ = await store.list_events(query, Page(limit=1000))
    return {e.uid: e for e in listed}


def uid(number: int) -> str:
    return load(number)["body"]["request"]["uid"]


async def derive_all(store: Store) -> None:
    deriver = Deriver(store, CommitSignal(), Metrics())
    while not await deriver.derive_once():
        pass


def judged(seen: dict[str, Event]) -> dict[str, tuple[object, ...]]:
    return {u: (e.continuity, e.unrecorded_changes, e.applied) for u, e in seen.items()}


async def test_a_left_out_request_is_a_gap_at_the_next_event(store_url: StoreURL):
    async with open_store(store_url, max_events_per_resource=1000) as store:
        await store.record(events(numbers_until(228, left_out=(82,))))
        seen = await by_uid(store, NGINX)
    after = seen[uid(84)]
    assert after.continuity == "gap"
    assert after.unrecorded_changes == [{"op": "add", "path": "/metadata/labels/owner"}]
    assert seen[uid(81)].continuity == "continuous"
    assert {e.continuity for e in seen.values()} == {"first", "continuous", "gap"}


async def test_outcome_stays_open_until_a_later_event_decides_it(store_url: StoreURL):
    async with open_store(store_url, max_events_per_resource=1000) as store:
        await store.record(events(numbers_until(81)))
        first = (await by_uid(store, NGINX))[uid(81)]
        await store.record(events([82]))
        second = (await by_uid(store, NGINX))[uid(81)]
        latest = (await by_uid(store, NGINX))[uid(82)]
        await derive_all(store)
        again = (await by_uid(store, NGINX))[uid(81)]
        after = (await by_uid(store, NGINX))[uid(82)]
    assert (first.applied, second.applied, again.applied, latest.applied, after.applied) == (
        None,
        True,
        True,
        None,
        None,
    )
    # Kept by the deriver: the open outcome as open; continuous and landed, the usual, as no row.
    kept = dict(table_rows(store_url, "SELECT id, settled FROM judgements"))
    assert str(second.id) not in kept
    assert kept[str(latest.id)] in ("0", "f", "False")


async def test_the_deriver_judges_as_readers_do_and_keeps_only_the_unusual(store_url: StoreURL):
    recorded = events(numbers_until(228, left_out=(82,)))
    async with open_store(store_url, max_events_per_resource=1000) as store:
        # In groups, as the writer commits them, so outcomes are decided across passes.
        for start in range(0, len(recorded), 20):
            await store.record(recorded[start : start + 20])
        on_demand = await by_uid(store)
        assert not table_rows(store_url, "SELECT id FROM judgements")
        await derive_all(store)
        stored = await by_uid(store)
    assert judged(stored) == judged(on_demand)
    usual = ("continuous", [], True)
    unusual = {str(e.id) for e in stored.values() if judged({"": e})[""] != usual}
    kept = {i for (i,) in table_rows(store_url, "SELECT id FROM judgements")}
    assert kept == unusual
    assert 0 < len(kept) < len(recorded)


async def test_the_race_in_the_captured_history_reads_as_never_landed(store_url: StoreURL):
    async with open_store(store_url, max_events_per_resource=1000) as store:
        await store.record(events(numbers_until(228)))
        seen = await by_uid(store)
        detail = await store.get_event(seen[uid(213)].id)
    assert detail is not None
    assert detail.applied is False
    assert seen[uid(209)].applied is True
    assert [e for e in seen.values() if e.continuity == "gap"] == []


async def test_retention_drops_the_judgements_with_their_events(store_url: StoreURL):
    async with open_store(store_url, max_events_per_resource=3) as store:
        await store.record(events(numbers_until(81)))
        await derive_all(store)
        kept = len(table_rows(store_url, "SELECT id FROM judgements"))
        await store.record(events([82, 84]))
    orphans = "SELECT id FROM judgements WHERE id NOT IN (SELECT id FROM events)"
    assert kept > 0
    assert not table_rows(store_url, orphans)


def test_the_api_carries_the_fields(fed_collector):
    listed = {e["uid"]: e for e in all_events(fed_collector)}
    assert listed[uid(213)]["applied"] is False
    assert listed[uid(45)]["continuity"] == "first"
    assert listed[uid(172)]["continuity"] is None
    assert all("unrecordedChanges" in e for e in listed.values())


async def test_a_sqlite_store_of_schema_5_reads_its_events_judged_as_before(tmp_path: Path):
    old, new = numbers_until(81), [82, 84]
    # The same events on a store of this version, judged on demand.
    reference = StoreURL.sqlite(tmp_path / "reference.sqlite")
    async with open_store(reference, max_events_per_resource=1000) as store:
        await store.record(events(old))
        expected_before = judged(await by_uid(store))
        await store.record(events(new))
        expected_after = judged(await by_uid(store))
    # A schema 5 store: its events' summaries derived, one open outcome kept by a reader.
    upgraded = StoreURL.sqlite(tmp_path / "upgraded.sqlite")
    with contextlib.closing(sqlite3.connect(upgraded.path, isolation_level=None)) as connection:
        connection.execute("PRAGMA journal_mode=WAL")
        for number, script in enumerate(sql.MIGRATIONS[:5], start=1):
            connection.executescript(f"BEGIN; {script}; PRAGMA user_version={number}; COMMIT;")
        connection.execute("BEGIN")
        insert_as_schema_6(connection, [encode_event(e).row for e in events(old)])
        connection.execute("UPDATE config SET value = (SELECT max(id) FROM events) "
                           "WHERE key = 'derived_up_to'")  # fmt: skip
        last = connection.execute("SELECT max(id) FROM events").fetchone()[0]
        connection.execute(sql.UPSERT_JUDGEMENT, (last, "continuous", "[]", None, 0, 0))
        connection.execute("COMMIT")
    async with open_store(upgraded, max_events_per_resource=1000) as store:
        before = judged(await by_uid(store))
        await store.record(events(new))
        await derive_all(store)
        after = judged(await by_uid(store))
    assert before == expected_before
    assert after == expected_after

"""Continuity and outcome through the store and the API: judged by the deriver after the
commit and kept when unusual, judged on demand for events it has not reached, the same either
way."""

from __future__ import annotations

import contextlib
import copy
import sqlite3
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from logistis.collector.admission.kinds import KindResolver
from logistis.collector.admission.review import event_from_request
from logistis.collector.history import reading
from logistis.collector.history.events import Event, time_to_ms
from logistis.collector.history.query import EventQuery, Page
from logistis.collector.history.runs import Run
from logistis.collector.metrics import Metrics
from logistis.collector.pipeline.deriver import Deriver
from logistis.collector.pipeline.progress import Progress
from logistis.collector.pipeline.writer import CommitSignal
from logistis.collector.store import Store, StoreURL, encode_event, open_store, sqlite_schema
from logistis.collector.store import sqlite_sql as sql
from tests.collector.test_recording import all_events
from tests.support.collector import CollectorProcess, post_reviews
from tests.support.fixtures import fixture_files, load
from tests.support.stores import insert_as_schema_6, table_rows

NGINX = EventQuery(names=("nginx",), kinds=("Deployment",))
# nginx's creationTimestamp in the captured history.
CREATED = datetime(2026, 11, 25, 1, 47, 38, tzinfo=UTC)
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
    listed, _ = await reading.page(store, query, Page(limit=1000))
    return {e.uid: e for e in listed}


def uid(number: int) -> str:
    return load(number)["body"]["request"]["uid"]


async def derive_all(store: Store) -> None:
    deriver = Deriver(store, CommitSignal(), Progress(Metrics()))
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
        detail = await reading.one(store, seen[uid(213)].id)
    assert detail is not None
    assert detail.applied is False
    assert seen[uid(209)].applied is True
    assert [e for e in seen.values() if e.continuity == "gap"] == []


def lost_race_to(number: int) -> Event:
    """A `kubectl set image` admitted against the same version as `number`'s, with another tag:
    the rival that lost, its webhook answered after the winner's."""
    request = copy.deepcopy(load(number)["body"]["request"])
    request["uid"] = "00000000-0000-4000-8000-00000000000" + str(number)[-1]
    request["object"]["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:1.28"
    return event_from_request(request, datetime.now(UTC), KindResolver())


async def test_a_race_lost_after_the_winner_was_recorded_reads_as_never_landed(
    store_url: StoreURL,
):
    loser = lost_race_to(71)
    async with open_store(store_url, max_events_per_resource=1000) as store:
        await store.record([*events(numbers_until(71)), loser])
        await derive_all(store)
        assert (await by_uid(store, NGINX))[loser.uid].applied is None  # nothing told yet
        await store.record(events([n for n in numbers_until(84) if n > 71]))
        on_demand = await by_uid(store, NGINX)
        await derive_all(store)
        derived = await by_uid(store, NGINX)
    for seen in (on_demand, derived):
        assert seen[loser.uid].applied is False
        assert seen[uid(71)].applied is True
        assert seen[uid(75)].continuity == "continuous"


async def test_the_store_reads_events_as_kept_and_the_reader_fills_in_the_rest(
    store_url: StoreURL,
):
    """Before the deriver's pass, the store's read has no continuity, outcome or actor to give
    (it never derives them itself); reading them whole (history/reading.py) derives them, and
    after the pass it finds them kept."""
    async with open_store(store_url, max_events_per_resource=1000) as store:
        await store.record(events(numbers_until(84)))
        kept, _ = await store.list_events(NGINX, Page(limit=1000))
        whole = await by_uid(store, NGINX)
        await derive_all(store)
        derived = await by_uid(store, NGINX)
    assert kept
    assert {(e.continuity, e.applied, e.actor) for e in kept} == {(None, None, None)}
    assert all(e.continuity is not None and e.actor is not None for e in whole.values())
    assert judged(whole) == judged(derived)
    assert {u: e.actor for u, e in whole.items()} == {u: e.actor for u, e in derived.items()}


@pytest.mark.parametrize(
    ("history_start", "expected"),
    [
        (CREATED - timedelta(minutes=5), ("gap", [{"op": "add", "path": ""}])),
        (CREATED + timedelta(seconds=1), ("first", [])),
    ],
)
async def test_an_object_created_since_recording_began_without_its_create_is_a_gap(
    store_url: StoreURL, history_start: datetime, expected: tuple[str, list[dict[str, str]]]
):
    # alice's CREATE of nginx (045) went unrecorded, as if its collector had been killed.
    start = time_to_ms(history_start)
    async with open_store(store_url, max_events_per_resource=1000) as store:
        await store.import_runs([Run("a/1", start, start + 3_600_000, None)])
        await store.record(events(numbers_until(84, left_out=(45,))))
        on_demand = await by_uid(store, NGINX)
        await derive_all(store)
        derived = await by_uid(store, NGINX)
    for seen in (on_demand, derived):
        first = seen[uid(51)]
        assert (first.continuity, first.unrecorded_changes) == expected
        assert seen[uid(53)].continuity == "continuous"


def test_a_create_lost_while_the_collector_ran_is_told_at_the_next_event(
    store_collector: CollectorProcess,
):
    # The CREATE never reached the collector (its request timed out at the webhook, say): the
    # next request finds an object created after the collector began recording.
    time.sleep(1.0)  # creationTimestamp has whole seconds: one after the run's start
    review = copy.deepcopy(load(51)["body"])
    created = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    for side in ("object", "oldObject"):
        review["request"][side]["metadata"]["creationTimestamp"] = created
    assert [r.status_code for r in post_reviews(store_collector, [review])] == [200]
    with store_collector.client() as client:
        (item,) = client.get("/api/v1/events").json()["items"]
    assert (item["continuity"], item["unrecordedChanges"]) == ("gap", [{"op": "add", "path": ""}])


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
        for number, script in enumerate(sqlite_schema.MIGRATIONS[:5], start=1):
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

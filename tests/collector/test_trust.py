"""Continuity and outcome through the store and the API: judged when read, kept when final."""

from __future__ import annotations

from datetime import UTC, datetime

from logistis.collector.admission import event_from_request
from logistis.collector.events import Event
from logistis.collector.kinds import KindResolver
from logistis.collector.query import EventQuery, Page
from logistis.collector.store import Store, StoreURL, open_store
from tests.collector.test_recording import all_events
from tests.support.fixtures import fixture_files, load
from tests.support.stores import table_rows

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
        again = (await by_uid(store, NGINX))[uid(81)]
    assert (first.applied, second.applied, again.applied, latest.applied) == (
        None,
        True,
        True,
        None,
    )
    kept = dict(table_rows(store_url, "SELECT id, settled FROM judgements"))
    assert kept[str(second.id)] in ("1", "t", "True")
    assert kept[str(latest.id)] in ("0", "f", "False")


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
        await by_uid(store)
        judged = len(table_rows(store_url, "SELECT id FROM judgements"))
        await store.record(events([82, 84]))
    orphans = "SELECT id FROM judgements WHERE id NOT IN (SELECT id FROM events)"
    assert judged > 0
    assert not table_rows(store_url, orphans)


def test_the_api_carries_the_fields(fed_collector):
    listed = {e["uid"]: e for e in all_events(fed_collector)}
    assert listed[uid(213)]["applied"] is False
    assert listed[uid(45)]["continuity"] == "first"
    assert listed[uid(172)]["continuity"] is None
    assert all("unrecordedChanges" in e for e in listed.values())

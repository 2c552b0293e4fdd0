"""Retention on both stores: per-resource limit (applied as events are recorded), maximum age
and maximum size."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from logistis.collector.admission.kinds import KindResolver
from logistis.collector.admission.review import event_from_request
from logistis.collector.history.query import EventQuery, Page
from logistis.collector.pipeline.retention import enforce_once
from logistis.collector.store import StoreURL, open_store
from logistis.collector.store.postgres_functions import RETENTION_LOCK
from logistis.collector.store.postgres_sql import RELEASE_RETENTION_LOCK, TRY_RETENTION_LOCK
from logistis.collector.store.protocol import Retention
from tests.collector.test_recording import all_events
from tests.collector.test_trust import derive_all
from tests.support.collector import CollectorProcess, post_reviews, wait_for
from tests.support.fixtures import bodies
from tests.support.postgres import PostgresServer, psql
from tests.support.stores import store_env, write_locked

MONTH = timedelta(days=30)


def test_per_resource_limit_keeps_the_newest(tmp_path, store_url: StoreURL):
    args = ("--max-events-per-resource", "3")
    with CollectorProcess(tmp_path / "data", *args, env=store_env(store_url)) as collector:
        post_reviews(collector)
        events = all_events(collector)
        with collector.client() as client:
            facets = client.get("/api/v1/facets").json()
    history: dict[tuple, list[int]] = {}
    for event in events:
        key = (
            event["resource"]["group"],
            event["resource"]["resource"],
            event["namespace"],
            event["name"],
        )
        history.setdefault(key, []).append(event["id"])
    assert max(len(ids) for ids in history.values()) == 3
    # The nginx Deployment had dozens of writes; the three kept are the last three.
    nginx = history[("apps", "deployments", "team-a", "nginx")]
    assert nginx == sorted(nginx, reverse=True)
    assert facets["total"] == len(events)


def stored_events(days_ago: list[int]) -> list:
    kinds = KindResolver()
    now = datetime.now(UTC)
    requests = [b["request"] for b in bodies() if not b["request"]["dryRun"]]
    events = []
    for index, age in enumerate(days_ago):
        event = event_from_request(
            requests[index % len(requests)], now - timedelta(days=age), kinds
        )
        events.append(event)
    return events


async def test_max_age_removes_old_events_and_keeps_counts_exact(store_url: StoreURL):
    async with open_store(store_url, max_events_per_resource=1000) as store:
        await store.record(stored_events([40] * 30 + [10] * 20 + [1] * 10))
        removed = await enforce_once(store, Retention(max_age=timedelta(days=30)))
        assert removed == 30
        events, _ = await store.list_events(EventQuery(), Page(limit=1000))
        assert len(events) == 30
        assert (await store.facets(EventQuery())).total == 30
        assert sum(n.count for n in await store.namespaces()) == 30


async def test_max_size_removes_oldest_first(store_url: StoreURL):
    async with open_store(store_url, max_events_per_resource=100000) as store:
        await store.record(stored_events([5] * 2000))
        before = await store.used_bytes()
        await enforce_once(store, Retention(max_bytes=before // 2))
        assert await store.used_bytes() <= before // 2
        events, _ = await store.list_events(EventQuery(), Page(limit=1000))
        remaining = (await store.facets(EventQuery())).total
        assert 0 < remaining < 2000
        assert events[-1].id > 2000 - remaining  # the survivors are the newest


async def test_a_pass_cut_short_leaves_no_retention_lock_behind(postgres: PostgresServer):
    """A pooled connection is given back without asyncpg's reset query: a pass cancelled while
    it waits for the commit groups' lock must not leave its session lock on one (every later
    pass of every collector would be skipped)."""
    url = postgres.create_database()
    held = (
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
        f" AND objid = {RETENTION_LOCK & 0xFFFFFFFF}"
    )
    async with open_store(url, max_events_per_resource=1000) as store:
        await store.record(stored_events([40] * 3 + [1] * 2))
        with write_locked(url):
            cut_short = asyncio.create_task(enforce_once(store, Retention(max_age=MONTH)))
            await asyncio.to_thread(wait_for, lambda: psql(url.url, held) == ["1"], 30)
            cut_short.cancel()
            with pytest.raises(asyncio.CancelledError):
                await cut_short
            assert psql(url.url, held) == ["0"]
        assert await enforce_once(store, Retention(max_age=MONTH)) == 3


async def test_a_pass_lets_go_of_its_lock_before_it_returns(postgres: PostgresServer):
    """The next pass, on this collector or another, starts at once: a closed connection's
    session lock is freed only when its backend has seen it go, and a pass started meanwhile
    found it taken and was skipped."""
    url = postgres.create_database()
    other = await asyncpg.connect(url.url)
    try:
        async with open_store(url, max_events_per_resource=1000) as store:
            for _ in range(20):
                await enforce_once(store, Retention(max_age=MONTH))
                assert await other.fetchval(TRY_RETENTION_LOCK)
                assert await other.fetchval(RELEASE_RETENTION_LOCK)
    finally:
        await other.close()


async def test_ids_are_never_given_again_after_every_event_has_expired(store_url: StoreURL):
    """A stream resumes after the last id its client saw, and the deriver's mark stands past
    every id it reached: an id given again after retention emptied the store would be missed
    by both."""
    async with open_store(store_url, max_events_per_resource=1000) as store:
        await store.record(stored_events([40] * 5))
        await derive_all(store)
        seen = await store.last_id()
        assert await enforce_once(store, Retention(max_age=MONTH)) == 5
        await store.record(stored_events([0] * 3))
        await derive_all(store)
        events, _ = await store.list_events(EventQuery(), Page(limit=10))
    assert sorted(e.id for e in events) == [seen + 1, seen + 2, seen + 3]

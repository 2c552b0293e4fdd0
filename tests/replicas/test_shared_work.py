"""Work several collectors on one PostgreSQL database must not each do: a retention pass runs
in one collector at a time."""

from __future__ import annotations

from datetime import timedelta

from logistis.collector.retention import enforce_once
from logistis.collector.settings import Retention
from logistis.collector.store import open_store
from logistis.collector.store.postgres_sql import RETENTION_LOCK
from tests.collector.test_retention import stored_events
from tests.support.postgres import PostgresServer
from tests.support.stores import advisory_locked


async def test_a_retention_pass_is_skipped_while_another_collector_runs_one(
    postgres: PostgresServer,
):
    url = postgres.create_database()
    month = Retention(max_age=timedelta(days=30))
    async with open_store(url, max_events_per_resource=1000) as store:
        await store.record(stored_events([40] * 20 + [1] * 5))
        with advisory_locked(url, RETENTION_LOCK):
            assert await enforce_once(store, month) == 0
            assert await store.count(10**9) == 25
        assert await enforce_once(store, month) == 20
        assert await store.count(10**9) == 5

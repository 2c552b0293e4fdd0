"""The aggregates each store keeps beside its events (`stats` for the facets and the namespaces
overview, `resources` for per-resource retention, `search_values` for the text search, the
insights' counts per bucket, each identity's newest event) stay exactly what the events (and
their provenance rows) themselves count: after commit groups
of mixed resources, trimming past the per-resource limit within a group and across groups,
retention by age and by size, `migrate-store` both ways, and the upgrade of a SQLite store
written by schema 6."""

from __future__ import annotations

import contextlib
import sqlite3
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from logistis.collector.history.events import Event
from logistis.collector.history.query import EventQuery, Page
from logistis.collector.pipeline.retention import enforce_once
from logistis.collector.store import (
    Store,
    StoreURL,
    encode_event,
    open_store,
    postgres_schema,
    sqlite_schema,
)
from logistis.collector.store import insight_counts as ic
from logistis.collector.store.protocol import Retention
from logistis.collector.store.transfer import KEEP_EVERYTHING, copy_history
from logistis.collector.store.url import SQLITE
from logistis.collector.store.where import TEXT_COLUMNS
from tests.collector.test_store import fixture_events
from tests.support.postgres import PostgresServer, psql
from tests.support.stores import insert_as_schema_6, stored_at_schema, table_rows

Rows = set[tuple[str, ...]]

STATS = "namespace, grp, resource, kind, username, operation"
RESOURCES = "namespace, name, resource, grp"


def kept(url: StoreURL) -> dict[str, Rows]:
    """The aggregate tables as the store keeps them."""
    return {
        "stats": set(table_rows(url, f"SELECT {STATS}, count FROM stats")),
        "resources": set(table_rows(url, f"SELECT {RESOURCES}, count FROM resources")),
        "search_values": set(table_rows(url, "SELECT field, value, count FROM search_values")),
        **kept_insights(url),
    }


def kept_insights(url: StoreURL) -> dict[str, Rows]:
    # A bucket's kind of actor can be left counting none until its events go.
    activity = "grain, namespace, start_ms, actor, count, hand_edits"
    return {
        "insight_activity": set(
            table_rows(url, f"SELECT {activity} FROM insight_activity WHERE count != 0")
        ),
        "insight_users": set(
            table_rows(url, "SELECT grain, start_ms, username, count FROM insight_users")
        ),
        "insight_kinds": set(
            table_rows(url, "SELECT grain, start_ms, grp, resource, kind, count FROM insight_kinds")
        ),
    }


def _bucket(grain: int, scope: str, actors: bool) -> str:
    """The activity rows of one grain, of all namespaces or each one, counted from the events
    (every event) or from their provenance rows (who acted)."""
    start = f"e.time_ms - e.time_ms % {grain}"
    namespace = f"'{ic.ALL}'" if scope == ic.ALL else "e.namespace"
    grouped = start if scope == ic.ALL else f"e.namespace, {start}"
    if not actors:
        return (
            f"SELECT {grain}, {namespace}, {start}, '{ic.EVERY}', count(*), 0 FROM events AS e"
            f" GROUP BY {grouped}"
        )
    return (
        f"SELECT {grain}, {namespace}, {start}, p.actor, count(*),"
        " sum(CASE WHEN p.hand_edit THEN 1 ELSE 0 END)"
        f" FROM events AS e JOIN provenance AS p ON p.id = e.id GROUP BY {grouped}, p.actor"
    )


def counted_insights(url: StoreURL) -> dict[str, Rows]:
    activity = [
        *(_bucket(g, ic.ALL, actors) for g in ic.ALL_GRAINS for actors in (False, True)),
        *(_bucket(g, "", False) for g in ic.NAMESPACE_GRAINS),
        *(_bucket(g, "", True) for g in ic.NAMESPACE_ACTOR_GRAINS),
    ]
    start = "time_ms - time_ms % {g}"
    users = " UNION ALL ".join(
        f"SELECT {g}, {start.format(g=g)}, username, count(*) FROM events"
        f" GROUP BY {start.format(g=g)}, username"
        for g in ic.TOPS_GRAINS
    )
    kinds = " UNION ALL ".join(
        f"SELECT {g}, {start.format(g=g)}, grp, resource, kind, count(*) FROM events"
        f" GROUP BY {start.format(g=g)}, grp, resource, kind"
        for g in ic.TOPS_GRAINS
    )
    return {
        "insight_activity": set(table_rows(url, " UNION ALL ".join(activity))),
        "insight_users": set(table_rows(url, users)),
        "insight_kinds": set(table_rows(url, kinds)),
    }


def counted(url: StoreURL) -> dict[str, Rows]:
    """The same tables counted from the events."""
    values = " UNION ALL ".join(
        f"SELECT '{column}', {column}, count(*) FROM events GROUP BY {column}"
        for column in TEXT_COLUMNS
    )
    return {
        "stats": set(table_rows(url, f"SELECT {STATS}, count(*) FROM events GROUP BY {STATS}")),
        "resources": set(
            table_rows(url, f"SELECT {RESOURCES}, count(*) FROM events GROUP BY {RESOURCES}")
        ),
        "search_values": set(table_rows(url, values)),
        **counted_insights(url),
    }


def newest_events(url: StoreURL) -> list[tuple[int, int]]:
    """Each identity still named by events: its kept `last_event`, and its newest event."""
    rows = table_rows(
        url,
        "SELECT i.last_event, max(e.id) FROM identities AS i JOIN events AS e"
        " ON e.identity = i.id GROUP BY i.id, i.last_event",
    )
    return [(int(last), int(newest)) for last, newest in rows]


def assert_exact(url: StoreURL) -> None:
    assert kept(url) == counted(url)
    assert all(last >= newest for last, newest in newest_events(url))


def resource_of(event: Event) -> tuple[str, str, str, str]:
    return (event.namespace, event.name, event.resource.resource, event.resource.group)


async def stored_ids(store: Store) -> list[int]:
    events, _ = await store.list_events(EventQuery(), Page(limit=1000))
    return sorted(e.id for e in events)


async def test_groups_of_mixed_resources_are_counted_exactly(store_url: StoreURL):
    events = fixture_events()
    async with open_store(store_url, max_events_per_resource=1000) as store:
        for start in range(0, len(events), 37):
            await store.record(events[start : start + 37])
            assert kept(store_url) == counted(store_url)
        facets = await store.facets(EventQuery())
    # Nothing removed yet: each identity's newest event is the one kept.
    assert all(last == newest for last, newest in newest_events(store_url))
    assert facets.total == len(events)


async def test_trimming_past_the_limit_within_one_group_and_across_groups(store_url: StoreURL):
    template, *others = fixture_events()
    same = [replace(template, uid=f"same-{n}", name="trimmed") for n in range(7)]
    async with open_store(store_url, max_events_per_resource=3) as store:
        # Five of one resource in one group, among others: the two oldest of them go at once.
        await store.record([*same[:3], *others[:20], *same[3:5]])
        assert_exact(store_url)
        # Then across groups: each pushes it past the limit again.
        await store.record([same[5], *others[20:30]])
        await store.record([*others[30:40], same[6]])
        assert_exact(store_url)
        kept_events, _ = await store.list_events(EventQuery(names=("trimmed",)), Page(limit=100))
        everyone, _ = await store.list_events(EventQuery(), Page(limit=1000))
    assert [e.uid for e in kept_events] == ["same-6", "same-5", "same-4"]
    per_resource: dict[tuple[str, str, str, str], int] = {}
    for event in everyone:
        per_resource[resource_of(event)] = per_resource.get(resource_of(event), 0) + 1
    assert max(per_resource.values()) == 3


async def test_retention_by_age_and_by_size_counts_its_events_out(store_url: StoreURL):
    aged = [replace(e, name=f"aged-{e.name}") for e in fixture_events(age=timedelta(days=40))]
    async with open_store(store_url, max_events_per_resource=1000) as store:
        await store.record(aged)
        await store.record(fixture_events())
        removed = await enforce_once(store, Retention(max_age=timedelta(days=30)))
        assert removed == len(aged)
        assert_exact(store_url)
        before = await stored_ids(store)
        removed = await enforce_once(store, Retention(max_bytes=await store.used_bytes() // 2))
        after = await stored_ids(store)
    assert removed > 0
    assert after == before[removed:]
    assert_exact(store_url)


async def filled(url: StoreURL, max_per_resource: int) -> None:
    events = fixture_events()
    repeated = [replace(e, uid=f"again-{i}") for i, e in enumerate(events[:60])]
    async with open_store(url, max_events_per_resource=max_per_resource) as store:
        await store.record(events)
        await store.record(repeated)


async def copied(source: StoreURL, destination: StoreURL) -> None:
    async with (
        open_store(source, max_events_per_resource=KEEP_EVERYTHING) as src,
        open_store(destination, max_events_per_resource=KEEP_EVERYTHING) as dst,
    ):
        result = await copy_history(src, dst)
    assert result.matches


async def test_migrate_store_counts_the_copied_events_in_both_ways(
    tmp_path: Path, postgres: PostgresServer
):
    sqlite = StoreURL.sqlite(tmp_path / "from.sqlite")
    await filled(sqlite, max_per_resource=2)
    to_postgres = postgres.create_database()
    await copied(sqlite, to_postgres)
    back = StoreURL.sqlite(tmp_path / "back.sqlite")
    await copied(to_postgres, back)
    for url in (sqlite, to_postgres, back):
        assert_exact(url)
    assert kept(back) == kept(to_postgres) == kept(sqlite)


async def test_a_sqlite_store_of_schema_6_is_counted_again_when_upgraded(tmp_path: Path):
    path = tmp_path / "db.sqlite"
    url = StoreURL.sqlite(path)
    events = fixture_events()
    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as connection:
        connection.execute("PRAGMA journal_mode=WAL")
        for number, script in enumerate(sqlite_schema.MIGRATIONS[:6], start=1):
            connection.executescript(f"BEGIN; {script}; PRAGMA user_version={number}; COMMIT;")
        connection.execute("UPDATE config SET value = 2 WHERE key = 'max_events_per_resource'")
        # Its triggers counted every event in, and trimmed each resource to 2 as it went.
        insert_as_schema_6(connection, [encode_event(e).row for e in events + events[:50]])
    async with open_store(url, max_events_per_resource=2) as store:
        assert kept(url) == counted(url)
        assert kept(url)["search_values"]
        found, _ = await store.list_events(EventQuery(text=events[0].name), Page(limit=1000))
        assert found
        await store.record([replace(e, uid=f"new-{i}") for i, e in enumerate(events[:80])])
        assert_exact(url)
    assert table_rows(url, "PRAGMA user_version") == [(str(len(sqlite_schema.MIGRATIONS)),)]


async def test_the_insights_counts_are_filled_from_the_events_and_provenance_kept(
    store_url: StoreURL,
):
    events = [
        replace(e, time=e.time - timedelta(minutes=7 * n)) for n, e in enumerate(fixture_events())
    ]
    before = len(sqlite_schema.MIGRATIONS) - 1
    # The steps before the one that counts (PostgreSQL has steps after it).
    pg_before = postgres_schema.MIGRATIONS.index(postgres_schema.INSIGHT_COUNTS_MIGRATION)
    await stored_at_schema(store_url, events, sqlite=before, postgres=pg_before)
    # Who acted, as the deriver of that schema kept it: one in three a person's hand edit.
    kept_provenance = (
        "INSERT INTO provenance (id, actor, hand_edit)"
        " SELECT id, CASE WHEN id % 3 = 0 THEN 'person' ELSE 'controller' END, id % 3 = 0"
        " FROM events"
    )
    if store_url.backend == SQLITE:
        with contextlib.closing(sqlite3.connect(store_url.path)) as connection, connection:
            connection.execute(kept_provenance)
    else:
        psql(store_url.url, kept_provenance)
    async with open_store(store_url, max_events_per_resource=1000) as store:
        assert_exact(store_url)
        assert {row[3] for row in kept(store_url)["insight_activity"]} == {
            "",
            "person",
            "controller",
        }
        await store.record([replace(e, uid=f"new-{i}") for i, e in enumerate(events[:40])])
        removed = await enforce_once(store, Retention(max_age=timedelta(hours=10)))
        assert removed > 0
        assert_exact(store_url)

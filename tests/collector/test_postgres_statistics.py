"""The PostgreSQL store analyzes its tables as its history passes each power of two of events,
while autovacuum has not come to a young database yet."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from logistis.collector.store import StoreURL, open_store
from logistis.collector.store.postgres_statistics import (
    FIRST_MARK,
    LAST_MARK,
    TABLES,
    YoungStatistics,
    passes_a_mark,
)
from tests.collector.test_store import fixture_events
from tests.support.collector import free_port
from tests.support.postgres import PostgresServer
from tests.support.stores import table_rows


@pytest.mark.parametrize(
    ("before", "after", "passes"),
    [
        (0, FIRST_MARK - 1, False),
        (0, FIRST_MARK, True),
        (FIRST_MARK - 1, FIRST_MARK, True),
        (FIRST_MARK, 2 * FIRST_MARK - 1, False),
        (FIRST_MARK, 2 * FIRST_MARK, True),
        (3000, 5000, True),
        (5000, 8191, False),
        (LAST_MARK - 1, LAST_MARK, True),
        (LAST_MARK, 4 * LAST_MARK, False),
        (10, 10 * LAST_MARK, True),
    ],
)
def test_a_mark_is_a_power_of_two_from_the_first_to_the_last(before, after, passes):
    assert passes_a_mark(before, after) is passes


def analyzed(url: StoreURL) -> dict[str, bool]:
    rows = table_rows(url, "SELECT relname, last_analyze IS NOT NULL FROM pg_stat_user_tables")
    return {name: flag == "t" for name, flag in rows if name in TABLES}


async def until_analyzed(url: StoreURL, seconds: float = 10.0) -> dict[str, bool]:
    for _ in range(int(seconds / 0.1)):
        tables = analyzed(url)
        if all(tables.values()):
            break
        await asyncio.sleep(0.1)
    return tables


async def test_the_tables_are_analyzed_when_the_events_pass_a_mark(postgres: PostgresServer):
    url = postgres.create_database()
    template = fixture_events()[0]
    group = 100
    async with open_store(url) as store:
        for number in range(FIRST_MARK // group):
            await store.record([replace(template, name=f"n{number}-{i}") for i in range(group)])
        assert analyzed(url) == dict.fromkeys(TABLES, False)
        await store.record([replace(template, name=f"last-{i}") for i in range(group)])
        assert await until_analyzed(url) == dict.fromkeys(TABLES, True)
    # What the planner now knows of the events is what they hold, not an empty table's guess.
    ((tuples,),) = table_rows(
        url, "SELECT reltuples::bigint FROM pg_class WHERE relname = 'events'"
    )
    assert int(tuples) == FIRST_MARK // group * group + group


async def test_a_store_opened_on_a_history_counts_its_marks_from_there(postgres: PostgresServer):
    url = postgres.create_database()
    template = fixture_events()[0]
    async with open_store(url) as store:
        await store.record([replace(template, name=f"a{i}") for i in range(FIRST_MARK + 10)])
    # The first group of a store sets where it counts from, as a restarted collector's does.
    assert analyzed(url) == dict.fromkeys(TABLES, False)
    async with open_store(url) as store:
        await store.record([replace(template, name="b")])
        assert analyzed(url) == dict.fromkeys(TABLES, False)
        # 1,035 -> 2,059 passes 2,048.
        await store.record([replace(template, name=f"c{i}") for i in range(FIRST_MARK)])
        assert await until_analyzed(url) == dict.fromkeys(TABLES, True)


async def test_a_failed_analyze_is_one_warning(caplog: pytest.LogCaptureFixture):
    # A port nothing listens on: the connection is refused, and autovacuum is left to it.
    statistics = YoungStatistics(StoreURL.parse(f"postgresql://logistis@127.0.0.1:{free_port()}/x"))
    statistics.given([FIRST_MARK - 1])
    statistics.given(["refused: not an id", FIRST_MARK])
    for _ in range(100):
        warned = [r for r in caplog.records if r.name.endswith("postgres_statistics")]
        if warned:
            break
        await asyncio.sleep(0.05)
    await statistics.close()
    (record,) = warned
    assert record.levelname == "WARNING"
    assert record.getMessage().startswith("could not analyze the store's tables: ")

"""`migrate-store`: a SQLite history with the demo's traffic copied to PostgreSQL, compared
event by event (summaries, objects, namespaces, facets), after an interrupted first run; the
collectors' runs (heartbeats) copied both ways."""

from __future__ import annotations

import asyncio
import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from logistis.collector.history import reading
from logistis.collector.history.query import EventQuery, Page
from logistis.collector.history.runs import Run
from logistis.collector.store import Store, StoreURL, open_store
from logistis.collector.store.transfer import KEEP_EVERYTHING, copy_history
from tests.collector.test_retention import stored_events
from tests.support.collector import run_collector_command
from tests.support.postgres import PostgresServer
from tests.support.stores import BACKENDS

ROOT = Path(__file__).resolve().parents[2]
DEMO_EVENTS = 1500
INTERRUPTED_AT = 1000  # after the first chunk


def demo_tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location("demo", ROOT / "tools" / "demo.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["demo"] = module
    spec.loader.exec_module(module)
    return module


class Interrupted(Exception):
    pass


def stop_after_one_chunk(done: int, total: int) -> None:
    if done >= INTERRUPTED_AT:
        raise Interrupted


async def everything(store: Store) -> dict[str, Any]:
    """Every event whole (objects and derived fields), each page's read at once, and the rest a
    reader is shown."""
    details, cursor = [], None
    while True:
        page, cursor = await reading.page(store, EventQuery(), Page(1000, cursor and int(cursor)))
        whole = {event.id: event for event in await reading.several(store, [e.id for e in page])}
        details += [whole[event.id] for event in page]
        if cursor is None:
            break
        cursor = str(page[-1].id)
    return {
        "details": [event.detail() for event in details],
        "namespaces": await store.namespaces(),
        "facets": await store.facets(EventQuery()),
        "kinds": await store.known_kinds(),
        "last": await store.last_id(),
    }


async def interrupted_copy(source: StoreURL, destination: StoreURL) -> None:
    async with (
        open_store(source, max_events_per_resource=KEEP_EVERYTHING) as src,
        open_store(destination, max_events_per_resource=KEEP_EVERYTHING) as dst,
    ):
        with pytest.raises(Interrupted):
            await copy_history(src, dst, stop_after_one_chunk)


async def both(source: StoreURL, destination: StoreURL) -> tuple[dict, dict]:
    async with open_store(source) as src, open_store(destination) as dst:
        return await everything(src), await everything(dst)


def test_migrate_store_copies_a_demo_history_event_by_event_and_resumes(
    tmp_path: Path, postgres: PostgresServer
):
    data = tmp_path / "data"
    data.mkdir()
    asyncio.run(demo_tool().seed(data, DEMO_EVENTS, 30, 100))
    source = StoreURL.sqlite(data / "logistis.db")
    destination = postgres.create_database()
    uri = tmp_path / "uri"
    uri.write_text(destination.url)

    asyncio.run(interrupted_copy(source, destination))
    result = run_collector_command(
        ["migrate-store", "--from", source.url, "--to-file", str(uri)], stdin=subprocess.DEVNULL
    )
    assert result.returncode == 0, result.stderr
    copied, stored = asyncio.run(both(source, destination))
    total = len(copied["details"])
    assert result.stdout.splitlines()[0] == (
        f"copied {total - INTERRUPTED_AT:,} events; up to id {copied['last']}: "
        f"source {total:,}, destination {total:,} (match)"
    )
    assert INTERRUPTED_AT < total <= DEMO_EVENTS
    assert stored == copied


def test_migrate_store_refuses_a_destination_that_is_not_a_copy(tmp_path: Path):
    first, second = tmp_path / "a.db", tmp_path / "b.db"
    data = tmp_path / "data"
    data.mkdir()
    demo = demo_tool()
    asyncio.run(demo.seed(data, 300, 1, 100))
    (data / "logistis.db").rename(first)
    asyncio.run(demo.seed(data, 300, 1, 100))
    (data / "logistis.db").rename(second)
    result = run_collector_command(
        ["migrate-store", "--from", f"sqlite://{first}", "--to", f"sqlite://{second}"]
    )
    assert result.returncode == 1
    assert "not a copy of" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def stop_when_the_events_are_copied(done: int, total: int) -> None:
    if done == total:
        raise Interrupted


async def seeded_with_runs(url: StoreURL) -> list[Run]:
    async with open_store(url) as store:
        await store.record(stored_events([1] * 3))
        await store.start_run("a/1", 1000)
        await store.stop_run("a/1", 1000, 5000)
        await store.start_run("b/1", 2000)
        await store.beat("b/1", 2000, 9000)  # killed after this beat
        return await store.runs()


async def interrupted_before_the_runs(source: StoreURL, destination: StoreURL) -> list[Run]:
    async with open_store(source) as src, open_store(destination) as dst:
        with pytest.raises(Interrupted):
            await copy_history(src, dst, stop_when_the_events_are_copied)
        return await dst.runs()


async def runs_of(url: StoreURL) -> list[Run]:
    async with open_store(url) as store:
        return sorted(await store.runs(), key=lambda run: run.started_ms)


@pytest.mark.parametrize("source_backend", BACKENDS)
def test_migrate_store_copies_the_collectors_runs_and_resumes(
    tmp_path: Path, postgres: PostgresServer, source_backend: str
):
    sqlite, database = StoreURL.sqlite(tmp_path / "logistis.db"), postgres.create_database()
    source, destination = (sqlite, database) if source_backend == "sqlite" else (database, sqlite)
    runs = asyncio.run(seeded_with_runs(source))
    assert asyncio.run(interrupted_before_the_runs(source, destination)) == []

    outputs = []
    for _ in range(2):  # resumed, then once more with nothing left to copy
        result = run_collector_command(
            ["migrate-store", "--from", source.url, "--to", destination.url]
        )
        assert result.returncode == 0, result.stderr
        outputs.append(result.stdout.splitlines())
    assert [lines[1] for lines in outputs] == [
        "copied 2 collector runs (heartbeats): source 2, destination 2 (match)",
        "copied 0 collector runs (heartbeats): source 2, destination 2 (match)",
    ]
    assert outputs[0][0] == "copied 0 events; up to id 3: source 3, destination 3 (match)"
    assert asyncio.run(runs_of(destination)) == sorted(runs, key=lambda run: run.started_ms)

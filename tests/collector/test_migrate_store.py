"""`migrate-store`: a SQLite history with the demo's traffic copied to PostgreSQL, compared
event by event (summaries, objects, namespaces, facets), after an interrupted first run."""

from __future__ import annotations

import asyncio
import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from logistis.collector.query import EventQuery, Page
from logistis.collector.store import Store, StoreURL, open_store
from logistis.collector.store.transfer import KEEP_EVERYTHING, copy_history
from tests.support.collector import run_collector_command
from tests.support.postgres import PostgresServer

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
    events, cursor = [], None
    while True:
        page, cursor = await store.list_events(EventQuery(), Page(1000, cursor and int(cursor)))
        events += page
        if cursor is None:
            break
        cursor = str(page[-1].id)
    details = [await store.get_event(event.id) for event in events]
    return {
        "details": [event.detail() for event in details if event is not None],
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
    assert result.stdout.strip() == (
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

"""The writer behind the admission edge: an event the store cannot take fails alone (on both
stores), and the writer loop outlives anything a commit raises.

These events skip the edge's type checks on purpose (`collector.admission` refuses them with a
400 first): the writer must hold even if a value of a wrong type gets past it.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from logistis.collector.history.events import Event
from logistis.collector.metrics import Metrics
from logistis.collector.pipeline.writer import NotRecorded, Writer
from logistis.collector.store import StoreURL, open_store
from tests.collector.test_store import all_stored, fixture_events

# Values of every kind SQLite cannot bind as a column: integers past 64 bits, JSON objects and
# lists, and anything else Python holds. (A float or a boolean binds; it is the edge's type
# check, tested in tests/reliability/test_hostile_reviews.py, that keeps those out.)
HOSTILE_VALUES: list[Any] = [2**63, -(2**63) - 1, 2**64 - 1, {"a": 1}, [1, "x"], {}, [], object()]
# Fields that go into a column as they are (the others are JSON-encoded or compressed).
COLUMN_FIELDS = ("field_manager", "namespace", "name", "uid")


def hostile(event: Event, field: str, value: Any) -> Event:
    return replace(event, **{field: value})


async def settle(futures: list[asyncio.Future[None]]) -> list[BaseException | None]:
    outcomes = await asyncio.gather(*futures, return_exceptions=True)
    return [o if isinstance(o, BaseException) else None for o in outcomes]


@pytest.mark.parametrize("field", COLUMN_FIELDS)
async def test_every_hostile_value_fails_alone_inside_its_group(store_url: StoreURL, field: str):
    valid = [replace(e, uid=str(uuid.uuid4())) for e in fixture_events()]
    bad = [
        hostile(replace(valid[i % len(valid)], uid=str(uuid.uuid4())), field, value)
        for i, value in enumerate(HOSTILE_VALUES)
    ]
    mixed: list[tuple[Event, bool]] = [(e, True) for e in valid] + [(e, False) for e in bad]
    random.Random(field).shuffle(mixed)
    async with open_store(store_url, max_events_per_resource=10_000) as store:
        writer = Writer(store, Metrics(), max_batch=64)
        writer.start()
        # Submitted in one go: they share groups of up to 64 with the hostile ones.
        futures = [writer.submit(event) for event, _ in mixed]
        outcomes = await settle(futures)
        assert writer.running
        await writer.close()
        stored = {e.uid for e in await all_stored(store)}
    for (event, ok), outcome in zip(mixed, outcomes, strict=True):
        if ok:
            assert outcome is None, f"valid event {event.uid} lost: {outcome!r}"
            assert event.uid in stored
        else:
            assert isinstance(outcome, NotRecorded)
            assert outcome.reason in ("not encodable", "not storable")
    assert len(stored) == len(valid)


async def test_the_writer_restarts_after_an_unexpected_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
):
    events = [replace(e, uid=str(uuid.uuid4())) for e in fixture_events()[:10]]
    url = StoreURL.sqlite(tmp_path / "db.sqlite")
    async with open_store(url, max_events_per_resource=10_000) as store:
        writer = Writer(store, Metrics())
        writer.start()
        real_record = store.record
        failing = asyncio.Event()

        async def record_once_broken(batch: list[Event]) -> Any:
            if not failing.is_set():
                failing.set()
                raise RuntimeError("a fault no handler expects")
            return await real_record(batch)

        monkeypatch.setattr(store, "record", record_once_broken)
        first = writer.submit(events[0])
        with pytest.raises(NotRecorded, match="internal error"):
            await first
        # Logged at once, and not running until the loop has started again.
        assert any("writer failed, restarting" in r.getMessage() for r in caplog.records)
        assert not writer.running
        assert "RuntimeError" in (writer.crashed or "")
        outcomes = await settle([writer.submit(e) for e in events[1:]])
        assert outcomes == [None] * (len(events) - 1)
        assert writer.running
        await writer.close()
        stored = {e.uid for e in await all_stored(store)}
    assert stored == {e.uid for e in events[1:]}

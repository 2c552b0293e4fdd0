"""SIGTERM under load: in-flight requests finish, everything acknowledged is committed."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.support.collector import CollectorProcess

from .load import PATIENT, Load, database, integrity, stored_uids


async def test_sigterm_under_load_flushes_everything_acknowledged(tmp_path: Path) -> None:
    collector = CollectorProcess(tmp_path / "data", *PATIENT).start()
    load = Load(collector, workers=32)
    running = asyncio.create_task(load.run())
    await asyncio.sleep(1.0)
    # SIGTERM from a thread: the load keeps going on this loop while the collector drains.
    code = await asyncio.to_thread(collector.stop)
    await running
    assert code == 0
    assert load.acknowledged
    assert load.denied == 0
    db = database(collector)
    # The last connection checkpointed and removed the WAL: nothing is left half-applied.
    assert not db.with_name(db.name + "-wal").exists()
    assert integrity(db) == "ok"
    assert load.acknowledged <= stored_uids(db)

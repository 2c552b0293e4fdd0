"""kill -9 at random moments under concurrent load: every acknowledged event survives."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

from tests.support.collector import CollectorProcess

from .load import PATIENT, Load, database, integrity, stored_uids
from .scale import knob, report


async def test_every_acknowledged_event_survives_kill_9(tmp_path: Path) -> None:
    rounds = knob("kill_rounds", 3)
    collector = CollectorProcess(tmp_path / "data", *PATIENT)
    acknowledged: set[str] = set()
    try:
        for _ in range(rounds):
            collector.start()
            load = Load(collector, workers=16)
            running = asyncio.create_task(load.run())
            await load.answered()
            # Random moments: early in a group commit, mid-batch, between batches.
            await asyncio.sleep(random.uniform(0.0, 0.6))
            collector.kill()
            await running
            assert load.acknowledged, "the load got no answers before the kill"
            assert load.denied == 0
            acknowledged |= load.acknowledged
            # Check the file as the killed process left it, before anything opens it again.
            assert integrity(database(collector)) == "ok"
            assert acknowledged - stored_uids(database(collector)) == set()
        collector.start()
        assert acknowledged <= stored_uids(database(collector))
    finally:
        collector.stop()
    report("kill -9 rounds survived with zero loss", rounds)
    report("events acknowledged across the kills", len(acknowledged))

"""Blind spots between replicas on one PostgreSQL database: a replica killed while another
was recording leaves none."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

from logistis.collector.pipeline.coverage import LATE_BEATS
from logistis.collector.store import StoreURL
from tests.collector.test_coverage import coverage
from tests.support.collector import CollectorProcess
from tests.support.postgres import PostgresServer
from tests.support.stores import store_env, table_rows

# Long enough that pod-1 starts within LATE_BEATS of them after pod-0's start on a busy machine.
SURVIVOR_BEAT = 5
LATE = LATE_BEATS * SURVIVOR_BEAT


def beats(url: StoreURL) -> list[tuple[int, int]]:
    """Each run's start and last beat, oldest first."""
    rows = table_rows(url, "SELECT started_ms, beat_ms FROM heartbeats ORDER BY started_ms")
    return [(int(start), int(beat)) for start, beat in rows]


def pod(tmp_path: Path, url: StoreURL, name: str, beat: float) -> CollectorProcess:
    """A replica as a Deployment's pod runs it: its own name as HOSTNAME, the shared key."""
    key = tmp_path / "redaction.key"
    if not key.exists():
        key.write_bytes(uuid.uuid4().bytes * 2)
    env = {**store_env(url), "HOSTNAME": name}
    args = ("--redaction-key-file", str(key), "--heartbeat-interval", str(beat))
    return CollectorProcess(tmp_path / name, *args, env=env)


def test_a_replica_killed_just_after_another_started_shows_no_blind_spot(
    tmp_path: Path, postgres: PostgresServer
):
    url = postgres.create_database()
    # pod-0 beats as it starts and not again before it is killed: its last beat is older than
    # pod-1's start, yet it was recording until the kill, after pod-1 had started.
    killed = pod(tmp_path, url, "pod-0", 600).start()
    with pod(tmp_path, url, "pod-1", SURVIVOR_BEAT) as survivor:
        killed.kill()
        # pod-0 counts as beating until its beat is LATE_BEATS intervals old: wait that out
        # (pod-1's start took part of it already).
        _, killed_beat = beats(url)[0]
        time.sleep(max(0.0, (killed_beat - time.time() * 1000) / 1000 + LATE + 0.5))
        spots = coverage(survivor)
    (_, last_beat), (taken_over, _) = beats(url)
    assert 0 < taken_over - last_beat <= LATE * 1000  # as the test means
    assert spots == []

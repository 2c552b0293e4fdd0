"""Collectors on one PostgreSQL database under steady admission writes spread across them:
SIGTERM drains (unready, still answering, flushed) so the client never meets a closed port, a
rolling restart loses no event, and a kill -9 loses no acknowledged one."""

from __future__ import annotations

import signal
import time
from pathlib import Path

from tests.support.collector import CollectorProcess
from tests.support.postgres import PostgresServer
from tests.support.replicas import Balancer, Outcomes, replicas
from tests.support.stores import stored_uids

# Long enough for the balancer (every 50 ms) to see the unready replica on a busy machine.
ARGS = ("--drain-seconds", "2", "--max-events-per-resource", "100000", "--commit-timeout", "30")


def wait_for_more(outcomes: Outcomes, count: int) -> None:
    """Until `count` more requests were acknowledged (progress, whatever the machine's speed)."""
    target = len(outcomes.acknowledged) + count
    deadline = time.monotonic() + 60
    while len(outcomes.acknowledged) < target and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(outcomes.acknowledged) >= target, outcomes.failed[:5]


def test_a_rolling_restart_under_steady_writes_loses_no_event(
    tmp_path: Path, postgres: PostgresServer
):
    url = postgres.create_database()
    with replicas(tmp_path, url, 3, *ARGS) as collectors, Balancer(collectors) as balancer:
        wait_for_more(balancer.outcomes, 50)
        for collector in collectors:
            assert collector.stop() == 0
            wait_for_more(balancer.outcomes, 30)
            collector.start()
            wait_for_more(balancer.outcomes, 30)
    assert balancer.outcomes.failed == []
    assert set(balancer.outcomes.acknowledged) <= stored_uids(url)
    for collector in collectors:
        assert "draining: unready, still answering" in collector.log.read_text()


def test_a_replica_killed_under_writes_loses_no_acknowledged_event(
    tmp_path: Path, postgres: PostgresServer
):
    url = postgres.create_database()
    with replicas(tmp_path, url, 2, *ARGS) as collectors, Balancer(collectors) as balancer:
        wait_for_more(balancer.outcomes, 100)
        killed: CollectorProcess = collectors[0]
        killed.stop(signal.SIGKILL)
        # The survivor keeps answering.
        wait_for_more(balancer.outcomes, 50)
    # Only requests in flight to the killed replica failed, none with an HTTP error.
    assert all(failure.startswith("0: ") for failure in balancer.outcomes.failed)
    assert not any(failure[3:].isdigit() for failure in balancer.outcomes.failed)
    assert set(balancer.outcomes.acknowledged) <= stored_uids(url)

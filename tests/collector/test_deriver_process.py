"""On SQLite the deriver runs in a process of its own (collector/deriver_process.py): it derives
every commit, its passes reach the collector's metrics and readiness, it is started again when
it dies, a Ctrl-C meant for the collector leaves it to the collector, it never outlives the
collector, and the two processes' writers take turns on the database. It is told of the
commits a byte each pass at the most, and never misses one."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from logistis.collector.deriver_process import Telling
from logistis.collector.store import StoreURL, open_store
from logistis.collector.store.sqlite_writes import WriteLock
from tests.collector.test_deriver import fixture_events
from tests.reliability.load import metric
from tests.support.collector import CollectorProcess, children, derived, post_reviews, wait_for
from tests.support.fixtures import bodies
from tests.support.processes import alive


def deriver_pids(collector: CollectorProcess) -> list[int]:
    return children(collector, "logistis.collector.deriver_main")


def all_derived(collector: CollectorProcess) -> bool:
    with collector.client() as client:
        return derived(client)


def test_a_collector_on_sqlite_derives_in_a_process_of_its_own(tmp_path: Path) -> None:
    with CollectorProcess(tmp_path / "data") as collector:
        (child,) = deriver_pids(collector)
        # A Ctrl-C in a terminal reaches the whole process group: the collector decides.
        os.kill(child, signal.SIGINT)
        responses = post_reviews(collector)
        assert all(r.status_code == 200 for r in responses)
        assert wait_for(lambda: all_derived(collector), 30)
        recorded = metric(collector, "logistis_events_recorded_total")
        # Each pass's report reached the collector: every event's lag, and readiness.
        assert metric(collector, "logistis_derive_lag_seconds_count") == recorded
        assert metric(collector, "logistis_derive_behind_seconds") == 0
        with collector.client() as client:
            assert client.get("/readyz").status_code == 200
            events = client.get("/api/v1/events", params={"limit": 500}).json()["items"]
        assert len(events) == recorded
        assert all("changes" in event and "actor" in event for event in events)
        assert deriver_pids(collector) == [child]
    assert collector.process is not None
    assert collector.process.returncode == 0
    assert not alive(child)


def test_a_deriver_process_that_dies_is_started_again_and_derives_what_it_missed(
    tmp_path: Path,
) -> None:
    with CollectorProcess(tmp_path / "data") as collector:
        (first,) = deriver_pids(collector)
        os.kill(first, signal.SIGKILL)
        post_reviews(collector)
        assert wait_for(lambda: len(deriver_pids(collector)) == 1, 20)
        assert deriver_pids(collector) != [first]
        # Each event derived once, by the new process: its reports reach the collector too.
        recorded = metric(collector, "logistis_events_recorded_total")
        assert wait_for(
            lambda: metric(collector, "logistis_derive_lag_seconds_count") == recorded, 30
        )
        assert all_derived(collector)
    assert "the deriver's process stopped; starting it again" in collector.log.read_text()


def test_a_collector_killed_leaves_no_deriver_process_behind(tmp_path: Path) -> None:
    collector = CollectorProcess(tmp_path / "data").start()
    (child,) = deriver_pids(collector)
    collector.kill()
    # Its pipe from the collector closed: it ends its pass and stops.
    deadline = time.monotonic() + 15
    while alive(child) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(child)
    # The next start derives what was committed and not derived.
    with CollectorProcess(tmp_path / "data") as again:
        post_reviews(again, bodies()[:5])
        assert wait_for(lambda: all_derived(again), 30)


async def test_the_two_writers_take_turns_on_the_write_lock(tmp_path: Path) -> None:
    url = StoreURL.sqlite(tmp_path / "db.sqlite")
    async with open_store(url) as store:
        other = WriteLock(url.path)  # as the deriver's process holds it, for its save
        try:
            with other.held():
                commit = asyncio.ensure_future(store.record(fixture_events()[:3]))
                await asyncio.sleep(0.3)
                assert not commit.done()
            assert await asyncio.wait_for(commit, 5) == [None, None, None]
        finally:
            other.close()


class _Model:
    """The collector's end and the process as `Telling` and `Deriver._run` meet them: bytes
    and reports cross pipes in order and late, and a pass reads the commits at some point
    between its start and its report."""

    def __init__(self) -> None:
        self.telling = Telling()
        self.commits = 0
        self.bytes_sent = 0
        self.bytes_in_pipe = 0
        self.reports_in_pipe = 0
        self.reports_heard = 0
        self.fired = False
        # The process's pass: None (waiting for a byte), "started", or "read" with what it saw.
        self.state: str | None = "started"  # a process derives once when it comes up
        self.seen = 0

    def actions(self) -> list[str]:
        possible = ["commit"]
        if self.bytes_in_pipe:
            possible.append("byte arrives")
        if self.reports_in_pipe:
            possible.append("report arrives")
        if self.state is None and self.fired:
            possible.append("pass starts")
        if self.state == "started":
            possible.append("pass reads")
        if self.state == "read":
            possible.append("pass ends")
        return possible

    def act(self, action: str) -> None:
        if action == "commit":
            self.commits += 1
            self._send(self.telling.committed())
        elif action == "byte arrives":
            self.bytes_in_pipe -= 1
            self.fired = True
        elif action == "report arrives":
            self.reports_in_pipe -= 1
            self.reports_heard += 1
            self._send(self.telling.passed())
        elif action == "pass starts":
            self.fired = False  # `next_commit()` taken before the pass: later bytes wake it
            self.state = "started"
        elif action == "pass reads":
            self.seen, self.state = self.commits, "read"
        elif action == "pass ends":
            self.reports_in_pipe += 1
            self.state = None

    def _send(self, byte: bool) -> None:
        self.bytes_sent += byte
        self.bytes_in_pipe += byte


@settings(max_examples=500, deadline=None)
@given(st.data())
def test_every_commit_group_is_read_by_a_pass_with_a_byte_each_pass_at_the_most(data) -> None:
    model = _Model()
    for _ in range(data.draw(st.integers(0, 60))):
        model.act(data.draw(st.sampled_from(model.actions())))
    # No more commits: everything in flight arrives, and the process derives what it is told.
    while possible := [action for action in model.actions() if action != "commit"]:
        model.act(possible[0])
    assert model.seen == model.commits
    assert model.bytes_sent <= model.reports_heard + 1


def test_a_burst_of_commit_groups_during_a_pass_is_one_byte() -> None:
    telling = Telling()
    assert telling.committed()
    assert [telling.committed() for _ in range(50)] == [False] * 50
    assert telling.passed()  # the pass may have read before them: one byte for all
    assert not telling.passed()
    assert telling.committed()

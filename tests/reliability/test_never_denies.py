"""The webhook never denies: not when rules fail, not when the store is stuck."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from pathlib import Path

import httpx

from logistis.collector.store import StoreURL
from tests.support.collector import CollectorProcess, post_reviews, wait_for
from tests.support.fixtures import bodies
from tests.support.stores import store_env, write_locked
from tests.support.stores import stored_uids as stored_in

from .load import Load, database, fresh_review, integrity, metric, recorded_fixtures, stored_uids

FAILING_RULES = """
capture:
  exclude:
    - name: no-spec
      cel: object.spec.replicas > 100
  include:
    - name: divides-by-zero
      cel: 1 / (size(request.name) - size(request.name)) == 0
    - name: not-a-boolean
      cel: request.name
"""


def test_rules_that_fail_never_deny(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(FAILING_RULES)
    with CollectorProcess(tmp_path / "data", "--config", str(config)) as collector:
        answers = post_reviews(collector, bodies())
    assert {a.status_code for a in answers} == {200}
    assert all(a.json()["response"]["allowed"] is True for a in answers)


async def test_a_locked_store_delays_nobody_past_the_commit_timeout(tmp_path: Path) -> None:
    collector = CollectorProcess(tmp_path / "data", "--commit-timeout", "1").start()
    db = database(collector)
    # Another process (a backup, an operator's sqlite3 shell) takes the write lock.
    holder = sqlite3.connect(db, isolation_level=None)
    try:
        holder.execute("BEGIN EXCLUSIVE")
        load = await Load(collector, workers=8).run_for(1.5)
        assert load.answers
        assert set(load.answers) == {200}
        assert load.denied == 0
        assert max(load.latencies) < 1.0 + 0.5
        assert await readyz_status(collector) == 503
        holder.execute("ROLLBACK")
        answered_uncommitted = ("logistis_events_dropped_total", "logistis_events_late_total")
        assert wait_for(lambda: sum(metric(collector, m) for m in answered_uncommitted) > 0, 10)
        assert await ready_within(collector, 10.0)
        after = [fresh_review(r) for r in recorded_fixtures()[:20]]
        post_reviews(collector, after)
        assert {r["request"]["uid"] for r in after} <= stored_uids(db)
        assert integrity(db) == "ok"
    finally:
        with contextlib.suppress(sqlite3.Error):
            holder.execute("ROLLBACK")
        holder.close()
        assert collector.stop() == 0


async def readyz_status(collector: CollectorProcess) -> int:
    async with httpx.AsyncClient(base_url=collector.api_url) as client:
        return (await client.get("/readyz")).status_code


async def ready_within(collector: CollectorProcess, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if await readyz_status(collector) == 200:
            return True
        await asyncio.sleep(0.2)
    return False


async def test_a_readiness_probe_timing_out_on_a_lock_leaves_recording_intact(
    tmp_path: Path,
) -> None:
    """The kubelet's probe gives up on a locked store after 1 s; the store's own BEGIN waits on.
    When the lock goes, that transaction must not stay open and fail every later commit."""
    collector = CollectorProcess(tmp_path / "data").start()
    db = database(collector)
    holder = sqlite3.connect(db, isolation_level=None)
    try:
        holder.execute("BEGIN EXCLUSIVE")
        assert await readyz_status(collector) == 503
        holder.execute("ROLLBACK")
        await asyncio.sleep(0.3)
        reviews = [fresh_review(r) for r in recorded_fixtures()[:10]]
        await asyncio.to_thread(post_reviews, collector, reviews)
        assert {r["request"]["uid"] for r in reviews} <= stored_uids(db)
        assert metric(collector, "logistis_events_dropped_total") == 0
    finally:
        holder.close()
        assert await asyncio.to_thread(collector.stop) == 0


def test_events_answered_at_the_commit_timeout_and_committed_after_are_late_not_dropped(
    tmp_path: Path, store_url: StoreURL
) -> None:
    collector = CollectorProcess(
        tmp_path / "data", "--commit-timeout", "0.5", env=store_env(store_url)
    ).start()
    reviews = [fresh_review(r) for r in recorded_fixtures()[:4]]
    try:
        # Held for the four answers (0.5 s each), less than SQLite's busy timeout (5 s): each
        # commit waits, and lands once the lock goes.
        with write_locked(store_url):
            answers = post_reviews(collector, reviews)
        assert all(a.json()["response"]["allowed"] is True for a in answers)
        assert wait_for(lambda: metric(collector, "logistis_events_late_total") == 4, 10)
        assert metric(collector, "logistis_events_dropped_total") == 0
        assert metric(collector, 'logistis_admission_requests_total{outcome="timeout"}') == 4
    finally:
        assert collector.stop() == 0
    assert {r["request"]["uid"] for r in reviews} <= stored_in(store_url)

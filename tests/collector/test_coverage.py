"""Blind spots: the periods when no collector was recording, from their heartbeats, and the
heartbeats retention keeps."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta
from pathlib import Path

from logistis.collector.pipeline.coverage import (
    LATE_BEATS,
    RECORDING_BEAT_SECONDS,
    BlindSpot,
    Run,
    blind_spots,
    clipped,
    now_ms,
    seconds_since_gap,
)
from logistis.collector.pipeline.retention import enforce_once
from logistis.collector.store import StoreURL, open_store
from logistis.collector.store.protocol import Retention
from tests.collector.test_retention import stored_events
from tests.support.collector import CollectorProcess, post_reviews
from tests.support.fixtures import bodies
from tests.support.stores import store_env, table_rows

SECOND = 1000


def test_a_clean_stop_then_a_start_is_one_blind_spot():
    runs = [Run("a/1", 0, 50 * SECOND, 60 * SECOND), Run("a/2", 90 * SECOND, 100 * SECOND, None)]
    assert blind_spots(runs, 105 * SECOND, 10) == [BlindSpot(60 * SECOND, 90 * SECOND, "stopped")]


def test_a_crash_is_blind_from_its_last_beat_and_nothing_beating_now_is_silent():
    runs = [Run("a/1", 0, 50 * SECOND, None), Run("a/2", 90 * SECOND, 100 * SECOND, None)]
    assert blind_spots(runs, 200 * SECOND, 10) == [
        BlindSpot(50 * SECOND, 90 * SECOND, "lost"),
        BlindSpot(100 * SECOND, None, "silent"),
    ]


def test_replicas_cover_for_each_other():
    runs = [
        Run("a/1", 0, 50 * SECOND, 50 * SECOND),
        Run("b/1", 10 * SECOND, 100 * SECOND, None),
        Run("a/2", 60 * SECOND, 100 * SECOND, None),
    ]
    assert blind_spots(runs, 105 * SECOND, 10) == []
    assert seconds_since_gap(runs, 105 * SECOND, 10) == 105


def test_a_replica_killed_just_after_another_started_leaves_no_blind_spot():
    # pod-0's beats end at 50 s and it was killed before its next one was due (LATE_BEATS
    # intervals on); pod-1 started at 55 s, while pod-0 may well have been recording still.
    killed = Run("pod-0/1", 0, 50 * SECOND, None)
    assert (
        blind_spots([killed, Run("pod-1/1", 55 * SECOND, 100 * SECOND, None)], 105 * SECOND, 10)
        == []
    )
    # Started after pod-0 must have died: blind from pod-0's last beat.
    late = Run("pod-1/1", 75 * SECOND, 100 * SECOND, None)
    assert blind_spots([killed, late], 105 * SECOND, 10) == [
        BlindSpot(50 * SECOND, 75 * SECOND, "lost")
    ]


def test_a_quick_restart_of_the_killed_collector_is_still_a_blind_spot():
    # The same pod's container started again: the killed one had ended by then.
    runs = [Run("pod-0/1", 0, 50 * SECOND, None), Run("pod-0/1", 53 * SECOND, 100 * SECOND, None)]
    assert blind_spots(runs, 105 * SECOND, 10) == [BlindSpot(50 * SECOND, 53 * SECOND, "lost")]


def test_a_window_keeps_the_spots_it_overlaps():
    spots = [BlindSpot(10, 20, "stopped"), BlindSpot(30, 40, "lost"), BlindSpot(50, None, "silent")]
    assert clipped(spots, 25, 45) == [spots[1]]
    assert clipped(spots, 45, None) == [spots[2]]


def coverage(collector: CollectorProcess) -> list[dict]:
    with collector.client() as client:
        return client.get("/api/v1/coverage").json()["items"]


# Short enough to beat within a test, long enough that a loaded machine's stalls (a beat more
# than two intervals late starts a new run) do not add blind spots of their own.
BEAT = ("--heartbeat-interval", "1")


def test_a_collector_stopped_for_a_while_then_started_shows_one_blind_spot(
    tmp_path: Path, store_url: StoreURL
):
    data, env = tmp_path / "data", store_env(store_url)
    first = CollectorProcess(data, *BEAT, env=env).start()
    time.sleep(0.5)
    first.stop()
    time.sleep(1.0)
    with CollectorProcess(data, *BEAT, env=env) as second:
        spots = coverage(second)
        with second.client() as client:
            metrics = client.get("/metrics").text
    assert len(spots) == 1
    assert spots[0]["cause"] == "stopped"
    assert spots[0]["start"] < spots[0]["end"]
    assert spots[0]["seconds"] >= 1.0  # at least the sleep between the two runs
    assert "logistis_seconds_since_last_blind_spot" in metrics


def test_a_killed_collector_is_blind_from_its_last_beat(tmp_path: Path):
    data = tmp_path / "data"
    first = CollectorProcess(data, *BEAT).start()
    time.sleep(1.5)  # at least one beat after the start
    first.kill()
    # A killed run is known to be over only once its beats are late (LATE_BEATS intervals):
    # until then it may just be slow. Start the next one after that, as a restarted pod would.
    time.sleep(LATE_BEATS * 1 + 0.5)
    with CollectorProcess(data, *BEAT) as second:
        spots = coverage(second)
        with second.client() as client:
            since = client.get("/api/v1/coverage", params={"since": spots[-1]["end"]}).json()
            before = client.get("/api/v1/coverage", params={"until": spots[0]["start"]}).json()
    # The kill, last; a machine loaded enough to stall the collector twice its interval would
    # show that stall before it, as lost too.
    assert spots
    assert {s["cause"] for s in spots} == {"lost"}
    assert since["items"] == []  # the window starts as recording resumes
    assert before["items"] == []
    assert since["heartbeatSeconds"] == 1


def test_a_killed_collector_s_coverage_ends_close_to_what_it_last_recorded(
    tmp_path: Path, store_url: StoreURL
):
    # Beats a minute apart: before, the run's last beat was its start, seconds before the kill.
    collector = CollectorProcess(
        tmp_path / "data", "--heartbeat-interval", "60", env=store_env(store_url)
    ).start()
    reviews = [b for b in bodies() if not b["request"]["dryRun"]]
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        for review in reviews[:20]:
            review["request"]["uid"] = str(uuid.uuid4())
        assert {r.status_code for r in post_reviews(collector, reviews[:20])} == {200}
    collector.kill()
    ((beat, recorded),) = table_rows(
        store_url, "SELECT max(beat_ms), (SELECT max(time_ms) FROM events) FROM heartbeats"
    )
    # A beat follows the commits RECORDING_BEAT_SECONDS apart, give or take a loaded machine's
    # delays (its start was 5 s before the last event).
    assert int(recorded) - int(beat) < 2 * RECORDING_BEAT_SECONDS * SECOND


DAY = 86_400 * SECOND


async def test_retention_keeps_the_heartbeats_the_blind_spots_of_the_kept_history_need(
    store_url: StoreURL,
):
    now = now_ms()
    runs = [
        Run("a/1", now - 60 * DAY, now - 50 * DAY, now - 50 * DAY),
        Run("a/2", now - 45 * DAY, now - 35 * DAY, None),  # killed
        Run("a/3", now - 20 * DAY, now - 12 * DAY, now - 12 * DAY),
        Run("b/1", now - 9 * DAY, now, None),  # beating: a blind spot before it, from 12 days
    ]
    async with open_store(store_url, max_events_per_resource=1000) as store:
        await store.record(stored_events([40] * 5 + [10] * 5))
        await store.import_runs(runs)
        # Nothing is removed while the oldest event is older than every run's end but the
        # first: its end begins the blind spot before the next one.
        assert await enforce_once(store, Retention(max_age=timedelta(days=100))) == 0
        assert sorted(await store.runs(), key=lambda r: r.started_ms) == runs
        # The oldest kept event is now 10 days old: the runs that ended before the one that
        # ended last before it (12 days ago) go.
        assert await enforce_once(store, Retention(max_age=timedelta(days=30))) == 5
        kept = sorted(await store.runs(), key=lambda r: r.started_ms)
    assert kept == runs[2:]
    # The blind spots from the last removed run's end on are told exactly as before, the one
    # that reaches into the kept history among them.
    later = [s for s in blind_spots(runs, now, 10) if s.start_ms >= runs[2].beat_ms]
    assert (
        blind_spots(kept, now, 10) == later == [BlindSpot(now - 12 * DAY, now - 9 * DAY, "stopped")]
    )


async def test_retention_keeps_every_heartbeat_of_a_store_without_events(store_url: StoreURL):
    runs = [Run("a/1", 0, 50 * SECOND, 60 * SECOND), Run("a/2", 90 * SECOND, 100 * SECOND, None)]
    async with open_store(store_url) as store:
        await store.import_runs(runs)
        await enforce_once(store, Retention(max_age=timedelta(days=1)))
        assert sorted(await store.runs(), key=lambda r: r.started_ms) == runs

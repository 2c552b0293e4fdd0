"""A collector on PostgreSQL when the database is not there: at start, one readable line and
a non-zero exit; while running, the webhook keeps allowing within --commit-timeout, counts
what it drops, /readyz says why, and recording resumes by itself when the database returns.
The commit listener backs off while it is away, says so once, and its streams miss nothing."""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path

import httpx

from logistis.collector.store import StoreURL
from tests.collector.test_durability import hammer
from tests.collector.test_stream import fresh
from tests.replicas.test_shared_history import Stream, uids
from tests.support.collector import (
    CollectorProcess,
    free_port,
    post_reviews,
    run_collector_command,
    wait_for,
)
from tests.support.postgres import PostgresServer, psql
from tests.support.replicas import replicas
from tests.support.stores import store_env, stored_uids

PASSWORD = "outage-pw-81c2"


def test_postgresql_unreachable_at_start_is_one_readable_line_without_the_password(tmp_path):
    url = f"postgresql://logistis:{PASSWORD}@127.0.0.1:{free_port()}/logistis"
    result = run_collector_command(
        ["--data-dir", str(tmp_path), "--log-level", "warning"],
        env={"LOGISTIS_STORE": url, "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("logistis-collector: postgresql://logistis:***@127.0.0.1:")
    assert "Traceback" not in result.stderr
    assert PASSWORD not in result.stderr + result.stdout


def counter(collector: CollectorProcess, name: str) -> float:
    text = httpx.get(f"{collector.api_url}/metrics", timeout=5).text
    return sum(float(v) for v in re.findall(rf"^{name}(?:{{[^}}]*}})? (\S+)$", text, re.M))


def ready(collector: CollectorProcess) -> httpx.Response:
    return httpx.get(f"{collector.api_url}/readyz", timeout=5)


def test_postgresql_stopped_and_started_under_load(tmp_path: Path):
    recorded = "logistis_events_recorded_total"
    with PostgresServer.temporary(fsync=False) as server:
        # The test server trusts local connections; the password is there to be looked for.
        url = StoreURL.parse(server.create_database().url.replace(":@", f":{PASSWORD}@", 1))
        args = ("--commit-timeout", "1", "--max-events-per-resource", "100000")
        collector = CollectorProcess(tmp_path / "data", *args, env=store_env(url)).start()
        answered: list[str] = []
        stop = threading.Event()
        workers = [
            threading.Thread(target=hammer, args=(collector, answered, stop)) for _ in range(4)
        ]
        try:
            for worker in workers:
                worker.start()
            assert wait_for(lambda: counter(collector, recorded) >= 50, 30)
            server.stop()
            assert wait_for(lambda: ready(collector).status_code == 503, 15)
            assert "store" in ready(collector).json()["detail"].lower()
            shown = ready(collector).text + httpx.get(f"{collector.api_url}/metrics").text
            dropped = "logistis_events_dropped_total"
            assert wait_for(lambda: counter(collector, dropped) >= 20, 15)
            before = counter(collector, recorded)
            server.start()
            assert wait_for(lambda: ready(collector).status_code == 200, 30)
            assert wait_for(lambda: counter(collector, recorded) >= before + 50, 30)
        finally:
            stop.set()
            for worker in workers:
                worker.join(15)
        total = counter(collector, recorded)
        assert collector.stop() == 0
        # Every request was answered allowed (the workers count only those), and every event
        # the collector counted as committed is in the database.
        assert all(worker.is_alive() is False for worker in workers)
        assert len(answered) >= total
        assert len(stored_uids(url)) >= total
        assert "***" in collector.log.read_text()
        assert PASSWORD not in collector.log.read_text() + shown


# Long enough for several attempts at a steady one a second, short of the stream's 15 s ping
# (a stream that reads while the database is away ends, and its client resumes).
OUTAGE_SECONDS = 3.0
LISTENER_LOST = "commit listener lost the database"
LISTENING = "commit listener listening again"


def log_lines(collector: CollectorProcess, message: str) -> list[str]:
    return [line for line in collector.log.read_text().splitlines() if message in line]


def test_the_commit_listener_backs_off_while_postgresql_is_down_and_its_stream_misses_nothing(
    tmp_path: Path,
):
    with PostgresServer.temporary(fsync=False) as server:
        url = server.create_database()
        with replicas(tmp_path, url, 2) as (a, b):
            stream = Stream(b)
            try:
                posted = fresh(3)
                post_reviews(a, posted)
                received = stream.take(3)
                server.stop()
                assert wait_for(lambda: bool(log_lines(b, LISTENER_LOST)), 15)
                time.sleep(OUTAGE_SECONDS)
                server.start()
                assert wait_for(lambda: ready(a).status_code == 200, 30)
                # Committed whether or not b listens yet: its catch-up read finds them.
                later = fresh(4, start=120)
                assert [r.status_code for r in post_reviews(a, later)] == [200] * 4
                posted += later
                resumed = stream.take(4)
                if len(resumed) < 4:
                    # b ended the stream: a read of it (after a commit it had not yet read)
                    # met the database away. A client resumes after the last event it got.
                    stream.close()
                    stream = Stream(b, headers={"Last-Event-ID": received[-1]["id"]})
                    resumed += stream.take(4 - len(resumed))
                received += resumed
                # Each listener comes back by itself, at its next attempt (15 s apart at most).
                for collector in (a, b):
                    assert wait_for(lambda c=collector: bool(log_lines(c, LISTENING)), 30)
            finally:
                stream.close()
        stored = [int(i) for i in psql(url.url, "SELECT id FROM events ORDER BY id")]
    assert [int(m["id"]) for m in received] == stored
    assert uids(received) == [r["request"]["uid"] for r in posted]
    for collector in (a, b):
        # One warning for the whole outage, one line when it ended.
        assert len(log_lines(collector, LISTENER_LOST)) == 1
        assert log_lines(collector, "commit listener still cannot reach") == []
        assert len(log_lines(collector, LISTENING)) == 1
        # Nor the pool's traceback at each of its own attempts.
        assert log_lines(collector, "asyncpg.pool") == []

"""A collector on PostgreSQL when the database is not there: at start, one readable line and
a non-zero exit; while running, the webhook keeps allowing within --commit-timeout, counts
what it drops, /readyz says why, and recording resumes by itself when the database returns."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from logistis.collector.store import StoreURL
from tests.collector.test_durability import hammer
from tests.support.collector import CollectorProcess, free_port, run_collector_command
from tests.support.postgres import PostgresServer
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


def wait_for(condition: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


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

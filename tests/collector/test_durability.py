"""On both stores: an acknowledged event survives `kill -9`; SIGTERM flushes everything
acknowledged."""

from __future__ import annotations

import signal
import threading
import time
import uuid

import httpx

from logistis.collector.store import StoreURL
from tests.support.collector import CollectorProcess
from tests.support.fixtures import bodies
from tests.support.stores import store_env, stored_uids


def hammer(collector: CollectorProcess, acknowledged: list[str], stop: threading.Event) -> None:
    """Post fresh reviews until stopped; remember the uids answered with allowed: true."""
    templates = [b for b in bodies() if not b["request"]["dryRun"]]
    with collector.webhook_client() as client:
        index = 0
        while not stop.is_set():
            body = templates[index % len(templates)]
            body["request"]["uid"] = str(uuid.uuid4())
            index += 1
            try:
                answer = client.post(collector.webhook_url, json=body)
            except httpx.TransportError:
                return
            if answer.status_code == 200 and answer.json()["response"]["allowed"]:
                acknowledged.append(body["request"]["uid"])


def run_load_then(collector: CollectorProcess, sig: int, at_least: int, then: float) -> list[str]:
    """Load until `at_least` answers came back, `then` seconds more, then send `sig`.

    Counting answers rather than waiting a fixed time keeps the test meaningful on a slow
    machine: the signal always lands with requests in flight behind real acknowledgements.
    """
    acknowledged: list[str] = []
    stop = threading.Event()
    workers = [
        threading.Thread(target=hammer, args=(collector, acknowledged, stop)) for _ in range(8)
    ]
    for worker in workers:
        worker.start()
    deadline = time.monotonic() + 60
    while len(acknowledged) < at_least and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(then)
    collector.stop(sig)
    stop.set()
    for worker in workers:
        worker.join(10)
    return acknowledged


PATIENT = ("--max-events-per-resource", "100000", "--commit-timeout", "30")


def test_kill_9_under_load_loses_no_acknowledged_event(tmp_path, store_url: StoreURL):
    # A high per-resource limit: retention must not be what removes an event here.
    collector = CollectorProcess(tmp_path / "data", *PATIENT, env=store_env(store_url))
    for round_number in range(3):
        collector.start()
        acknowledged = run_load_then(collector, signal.SIGKILL, 50, 0.1 * round_number)
        assert len(acknowledged) >= 50
        missing = set(acknowledged) - stored_uids(store_url)
        assert not missing, f"round {round_number}: {len(missing)} acknowledged events lost"
    collector.start()
    collector.stop()


def test_sigterm_under_load_flushes_everything_acknowledged(tmp_path, store_url: StoreURL):
    collector = CollectorProcess(tmp_path / "data", *PATIENT, env=store_env(store_url)).start()
    acknowledged = run_load_then(collector, signal.SIGTERM, 50, 0.2)
    assert collector.process is not None
    assert collector.process.returncode == 0
    assert set(acknowledged) <= stored_uids(store_url)

"""`--workers 2`: two processes answer the webhook port and the one started writes. Every
review is recorded on either store, a worker that dies is started again, SIGTERM drains them
and stops them all, and workers never outlive the writing process."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import httpx
import pytest

from tests.collector.test_stream import fresh
from tests.reliability.test_postgres_outage import counter
from tests.support.collector import CollectorProcess, children, post_reviews, wait_for
from tests.support.postgres import PostgresServer
from tests.support.processes import alive
from tests.support.stores import store_env, stored_uids


def workers_of(collector: CollectorProcess) -> list[int]:
    return children(collector, "logistis.collector.worker")


def one_by_one(collector: CollectorProcess, reviews: list[dict]) -> list[httpx.Response]:
    """A connection of its own for each review: the kernel spreads them over the workers."""
    return [post_reviews(collector, [review])[0] for review in reviews]


@pytest.mark.parametrize("store", ["sqlite", "postgresql"])
def test_every_review_answered_by_the_workers_is_recorded(
    tmp_path: Path, store: str, request: pytest.FixtureRequest
):
    env = {}
    if store == "postgresql":
        server: PostgresServer = request.getfixturevalue("postgres")
        url = server.create_database()
        env = store_env(url)
    with CollectorProcess(tmp_path / "data", "--workers", "2", env=env) as collector:
        assert len(workers_of(collector)) == 2
        reviews = fresh(40)
        answers = one_by_one(collector, reviews)
        assert [a.status_code for a in answers] == [200] * 40
        assert all(a.json()["response"]["allowed"] for a in answers)
        # The workers' counts reach the writing process's metrics within a second or so.
        assert wait_for(lambda: counter(collector, "logistis_admission_requests_total") == 40, 5)
        assert counter(collector, "logistis_events_recorded_total") == 40
        with collector.webhook_client() as client:
            ready = client.get(f"https://127.0.0.1:{collector.webhook_port}/readyz")
        assert ready.json() == {"status": "ready"}
        if store == "sqlite":
            with collector.client() as client:
                stored = client.get("/api/v1/events", params={"limit": 100}).json()["items"]
            assert {e["uid"] for e in stored} == {r["request"]["uid"] for r in reviews}
    if store == "postgresql":
        assert {r["request"]["uid"] for r in reviews} <= stored_uids(url)


def test_a_worker_that_dies_is_started_again(tmp_path: Path):
    with CollectorProcess(tmp_path / "data", "--workers", "2") as collector:
        one_by_one(collector, fresh(10))
        assert wait_for(lambda: counter(collector, "logistis_admission_requests_total") == 10, 5)
        killed = workers_of(collector)[0]
        os.kill(killed, signal.SIGKILL)
        assert wait_for(lambda: killed not in workers_of(collector), 5)
        assert wait_for(lambda: len(workers_of(collector)) == 2, 15)
        answers = one_by_one(collector, fresh(10, start=120))
        assert [a.status_code for a in answers] == [200] * 10
        # The dead worker's counts stay in the totals.
        assert wait_for(lambda: counter(collector, "logistis_admission_requests_total") == 20, 5)
        assert counter(collector, "logistis_events_recorded_total") == 20


def test_sigterm_drains_the_workers_then_stops_them_all(tmp_path: Path):
    collector = CollectorProcess(tmp_path / "data", "--workers", "2", "--drain-seconds", "2")
    with collector:
        workers = workers_of(collector)
        collector.terminate()
        # Draining: every process still answers, and says it is not ready.
        with collector.webhook_client() as client:
            review = fresh(1)[0]
            answer = client.post(collector.webhook_url, json=review)
            ready = client.get(f"https://127.0.0.1:{collector.webhook_port}/readyz")
        assert answer.status_code == 200
        assert ready.status_code == 503
        assert "draining" in ready.json()["detail"]
        assert collector.process is not None
        assert collector.process.wait(30) == 0
    assert not any(alive(pid) for pid in workers)
    log = collector.log.read_text()
    assert "Traceback" not in log


def test_workers_stop_when_the_writing_process_is_killed(tmp_path: Path):
    collector = CollectorProcess(tmp_path / "data", "--workers", "2").start()
    workers = workers_of(collector)
    collector.kill()
    deadline = time.monotonic() + 15
    while any(alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(alive(pid) for pid in workers)
    # Each says why, in a line that names it.
    lines = [json.loads(line) for line in collector.log.read_text().splitlines() if line]
    gone = [line for line in lines if line["message"].startswith("the writing process is gone")]
    assert sorted(line["worker"] for line in gone) == [0, 1]


def test_on_postgresql_each_worker_commits_its_own_events(tmp_path: Path, postgres: PostgresServer):
    url = postgres.create_database()
    with CollectorProcess(tmp_path / "data", "--workers", "2", env=store_env(url)) as collector:
        assert collector.process is not None
        # The writing process stopped: on SQLite no event could be committed now.
        collector.process.send_signal(signal.SIGSTOP)
        try:
            reviews = fresh(10)
            answers = one_by_one(collector, reviews)
            assert {r["request"]["uid"] for r in reviews} <= stored_uids(url)
        finally:
            collector.process.send_signal(signal.SIGCONT)
    assert [a.status_code for a in answers] == [200] * 10


def test_on_sqlite_a_stopped_writing_process_costs_a_review_its_commit_timeout(tmp_path: Path):
    collector = CollectorProcess(tmp_path / "data", "--workers", "2", "--commit-timeout", "0.5")
    with collector:
        assert collector.process is not None
        collector.process.send_signal(signal.SIGSTOP)
        try:
            review = fresh(1)[0]
            answer = post_reviews(collector, [review])[0]
        finally:
            collector.process.send_signal(signal.SIGCONT)
        assert answer.status_code == 200
        assert answer.json()["response"]["allowed"]
        # Answered at the timeout, then committed once the writing process runs again.
        with collector.client() as client:
            assert wait_for(
                lambda: (
                    review["request"]["uid"]
                    in {e["uid"] for e in client.get("/api/v1/events").json()["items"]}
                ),
                10,
            )
        assert wait_for(
            lambda: counter(collector, 'logistis_admission_requests_total{outcome="timeout"}') == 1,
            5,
        )

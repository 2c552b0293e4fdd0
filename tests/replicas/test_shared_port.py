"""Two collectors on one host share one webhook port (--reuse-port): both take connections,
and when one stops the other answers alone."""

from __future__ import annotations

from pathlib import Path

from tests.collector.test_stream import fresh
from tests.reliability.test_postgres_outage import counter
from tests.support.collector import CollectorProcess, post_reviews
from tests.support.postgres import PostgresServer
from tests.support.replicas import share_one_port
from tests.support.stores import store_env, stored_uids


def test_two_collectors_share_one_webhook_port(tmp_path: Path, postgres: PostgresServer):
    url = postgres.create_database()
    first, second = (
        CollectorProcess(tmp_path / name, "--reuse-port", env=store_env(url)) for name in "ab"
    )
    share_one_port([first, second])
    with first, second:
        reviews = fresh(40)
        # A connection of its own for each request: the kernel spreads them over both.
        answers = [post_reviews(first, [review])[0] for review in reviews]
        taken = [counter(c, "logistis_admission_requests_total") for c in (first, second)]
        first.stop()
        alone = fresh(5, start=150)
        answers += post_reviews(second, alone)
    assert [a.status_code for a in answers] == [200] * 45
    assert {r["request"]["uid"] for r in reviews + alone} <= stored_uids(url)
    assert sum(taken) == 40
    assert all(taken), f"the kernel spread the connections over both collectors: {taken}"

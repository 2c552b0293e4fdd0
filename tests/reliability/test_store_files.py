"""The SQLite store's files changed under a running collector (issue 23, item 5): the WAL or its
index made immutable, the database file removed or replaced. Each is noticed before the next
commit: the review still allowed, its event counted dropped with a log line that names the
file and what happened, `/readyz` 503 saying it; where the change can be undone, the collector
is ready and records again by itself. Before, the commits into an immutable WAL failed while
`/readyz` said 200 (its probe wrote nothing), events were acknowledged into a removed file and
lost at the next start, and an immutable `-shm` killed the process with SIGBUS, no line said."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.collector import CollectorProcess, post_reviews, wait_for

from .load import database, fresh_review, metric, recorded_fixtures, stored_uids


def readyz(collector: CollectorProcess) -> httpx.Response:
    return httpx.get(f"{collector.api_url}/readyz", timeout=5)


def unready_saying(collector: CollectorProcess, words: str) -> bool:
    answer = readyz(collector)
    return answer.status_code == 503 and words in answer.json()["detail"]


def posted(collector: CollectorProcess, count: int = 3) -> set[str]:
    """Post a few reviews, each allowed; their uids."""
    reviews = [fresh_review(r) for r in recorded_fixtures()[:count]]
    answers = post_reviews(collector, reviews)
    assert all(a.json()["response"]["allowed"] is True for a in answers)
    return {r["request"]["uid"] for r in reviews}


@contextlib.contextmanager
def immutable(path: Path) -> Iterator[None]:
    """`chattr +i`: not even root may write to the file (through a mapping either)."""
    if shutil.which("chattr") is None:
        pytest.skip("no chattr here")
    if subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode != 0:
        pytest.skip(f"the file system of {path} keeps no attributes")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=True)


@pytest.fixture
def collector(tmp_path: Path) -> Iterator[CollectorProcess]:
    process = CollectorProcess(tmp_path / "data", "--commit-timeout", "1").start()
    posted(process)
    # Idle: a file changed while SQLite writes is what the check cannot see (sqlite_files).
    assert wait_for(lambda: metric(process, "logistis_derive_lag_seconds_count") == 3, 10)
    yield process
    process.stop()


@pytest.mark.parametrize(
    ("suffix", "said"),
    [
        # Written with write(2): the commit fails as on a full disk, and so does the probe.
        ("-wal", "disk I/O error"),
        # Mapped: refused before SQLite writes to it, which SIGBUS would end.
        ("-shm", "logistis.db-shm is immutable"),
    ],
)
def test_an_immutable_wal_or_index_makes_the_collector_unready_until_it_is_writable(
    collector: CollectorProcess, suffix: str, said: str
):
    path = Path(f"{database(collector)}{suffix}")
    with immutable(path):
        lost = posted(collector)
        assert collector.process is not None
        assert collector.process.poll() is None, "not killed by SIGBUS"
        assert metric(collector, 'logistis_events_dropped_total{reason="store error"}') == 3
        assert unready_saying(collector, said)
        assert said in collector.log.read_text()
    assert wait_for(lambda: readyz(collector).status_code == 200, 10)
    recorded = posted(collector)
    assert recorded <= stored_uids(database(collector))
    assert not lost & stored_uids(database(collector))
    assert collector.stop() == 0


def stopped_saying(collector: CollectorProcess, words: str) -> bool:
    """Stopped: its run's last heartbeat cannot be written, so it exits with status 1 and a
    last line that says why."""
    return collector.stop() == 1 and words in collector.log.read_text().splitlines()[-1]


def test_a_removed_database_file_is_said_not_written_to(collector: CollectorProcess):
    database(collector).unlink()
    posted(collector)
    assert metric(collector, 'logistis_events_dropped_total{reason="store error"}') == 3
    assert metric(collector, "logistis_events_recorded_total") == 3, "only the first three"
    assert unready_saying(collector, "was removed while the collector ran")
    assert "the database file was removed" in collector.log.read_text()
    assert stopped_saying(collector, "the database file was removed")


def test_a_replaced_database_file_is_said_not_written_past(collector: CollectorProcess):
    path = database(collector)
    copy = path.with_name("copy.db")
    shutil.copyfile(path, copy)
    copy.replace(path)
    posted(collector)
    assert metric(collector, 'logistis_events_dropped_total{reason="store error"}') == 3
    assert unready_saying(collector, "was replaced while the collector ran")
    assert "the database file was replaced" in collector.log.read_text()
    assert stopped_saying(collector, "the database file was replaced")

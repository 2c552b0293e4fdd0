"""A full disk: admission goes on, readiness and metrics say so, recording resumes by itself.

The data directory is a real 4 MiB tmpfs (the suite runs as root, in CI too), so SQLite meets a
real ENOSPC; growing the mount gives the space back while the collector keeps running.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.collector import CollectorProcess, post_reviews, wait_for

from .load import Load, database, fresh_review, integrity, metric, recorded_fixtures, stored_uids

COMMIT_TIMEOUT = 2.0


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "logistis-test", str(mount_point)], check=True
    )
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "--lazy", str(mount_point)], check=True)


def resize(mount_point: Path, size: str) -> None:
    subprocess.run(["mount", "-o", f"remount,size={size}", str(mount_point)], check=True)


def dropped_for_store_errors(collector: CollectorProcess) -> float:
    return metric(collector, 'logistis_events_dropped_total{reason="store error"}')


async def test_full_disk_keeps_admitting_and_recovers_by_itself(
    small_disk: Path, tmp_path: Path
) -> None:
    collector = CollectorProcess(small_disk / "data", "--commit-timeout", str(COMMIT_TIMEOUT))
    collector.log = tmp_path / "collector.log"  # the log must not share the full disk
    collector.start()
    try:
        for _ in range(40):
            load = await Load(collector, workers=8).run_for(0.5)
            assert load.denied == 0
            if metric(collector, "logistis_events_dropped_total") > 0:
                break
        assert dropped_for_store_errors(collector) > 0, "the disk never filled up"

        # Full: every review is still allowed, within the commit timeout.
        reviews = [fresh_review(recorded_fixtures()[n]) for n in range(20)]
        started = time.monotonic()
        answers = post_reviews(collector, reviews)
        assert all(a.json()["response"]["allowed"] is True for a in answers)
        assert time.monotonic() - started < len(reviews) * (COMMIT_TIMEOUT + 0.5)
        with collector.client() as api:
            ready = api.get("/readyz")
        assert ready.status_code == 503
        assert "full" in ready.json()["detail"]
        assert dropped_for_store_errors(collector) >= 20

        resize(small_disk, "64m")
        # No admission traffic reaches a pod that is not ready: it must find out by itself.
        assert wait_for(lambda: is_ready(collector), 15.0), "not ready again after space came back"
        after = [fresh_review(recorded_fixtures()[n]) for n in range(10)]
        post_reviews(collector, after)
        assert {r["request"]["uid"] for r in after} <= stored_uids(database(collector))
        assert integrity(database(collector)) == "ok"
    finally:
        assert collector.stop() == 0


def is_ready(collector: CollectorProcess) -> bool:
    return httpx.get(f"{collector.api_url}/readyz").status_code == 200

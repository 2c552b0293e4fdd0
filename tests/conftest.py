"""Fixtures shared across the suite: a real collector, fed with the captured requests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.collector import CollectorProcess, post_reviews


@pytest.fixture(scope="session")
def fed_collector(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CollectorProcess]:
    """One collector for the session with all 228 fixtures posted (dry runs not recorded).

    Read-only tests share it; a test that writes or restarts starts its own `CollectorProcess`.
    """
    collector = CollectorProcess(tmp_path_factory.mktemp("fed") / "data").start()
    try:
        responses = post_reviews(collector)
        assert all(r.status_code == 200 for r in responses)
        yield collector
    finally:
        collector.stop()


@pytest.fixture
def collector(tmp_path: Path) -> Iterator[CollectorProcess]:
    """A fresh, empty collector of the test's own."""
    with CollectorProcess(tmp_path / "data") as process:
        yield process

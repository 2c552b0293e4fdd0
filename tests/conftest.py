"""Fixtures shared across the suite: a real collector, fed with the captured requests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from logistis.collector.store import StoreURL
from tests.support.collector import CollectorProcess, fed, stop_all
from tests.support.postgres import PostgresServer
from tests.support.stores import BACKENDS, store_env


@pytest.fixture(scope="session", autouse=True)
def no_collector_outlives_the_session() -> Iterator[None]:
    yield
    stop_all()


@pytest.fixture(scope="session")
def fed_collector(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CollectorProcess]:
    """One collector for the session with all 228 fixtures posted (dry runs not recorded).

    Read-only tests share it; a test that writes or restarts starts its own `CollectorProcess`.
    """
    with fed(tmp_path_factory.mktemp("fed") / "data") as collector:
        yield collector


@pytest.fixture
def collector(tmp_path: Path) -> Iterator[CollectorProcess]:
    """A fresh, empty collector of the test's own."""
    with CollectorProcess(tmp_path / "data") as process:
        yield process


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """One PostgreSQL server for the session, started by the first test that needs it."""
    with PostgresServer.temporary(fsync=False) as server:
        yield server


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> StoreURL:
    """An empty store of each backend: a SQLite file, or a PostgreSQL database of its own."""
    if request.param == "sqlite":
        return StoreURL.sqlite(tmp_path / "data" / "logistis.db")
    server: PostgresServer = request.getfixturevalue("postgres")
    return server.create_database()


@pytest.fixture
def store_collector(tmp_path: Path, store_url: StoreURL) -> Iterator[CollectorProcess]:
    """A fresh, empty collector of the test's own on each backend."""
    with CollectorProcess(tmp_path / "data", env=store_env(store_url)) as process:
        yield process

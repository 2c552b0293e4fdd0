"""The collector's API contract holds on both stores: the fed collector, once per backend."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.collector import CollectorProcess, fed
from tests.support.postgres import PostgresServer
from tests.support.stores import BACKENDS, store_env


@pytest.fixture(scope="session", params=BACKENDS)
def fed_collector(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    fed_collector: CollectorProcess,
) -> Iterator[CollectorProcess]:
    """The session's fed collector (SQLite), and the same 228 fixtures posted to a collector
    on PostgreSQL."""
    if request.param == "sqlite":
        yield fed_collector
        return
    server: PostgresServer = request.getfixturevalue("postgres")
    env = store_env(server.create_database())
    with fed(tmp_path_factory.mktemp("fed-pg") / "data", env) as collector:
        yield collector

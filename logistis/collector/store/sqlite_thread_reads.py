"""The deriver's reads on SQLite, in the deriver's own thread, on a connection of its own.

A pass of the deriver reads a dozen statements (the events it has not reached, their
neighbours, judgements, steps, authors, the latest events of their sources...). Through the
event loop's pool, each read is two hand-overs between threads, about 110-160 µs of CPU
whatever the statement, and a turn of the event loop the webhook's answers wait behind. Run
whole in the deriver's thread (`threads.PassThread`), a pass reads here instead: each
statement runs in place, in the calling thread, and the coroutines that read never suspend.

A pass reads in one read transaction (`snapshot`): every statement sees the history as it was
when the first one ran, and the files are checked and the WAL's read lock taken once a pass.
A statement on its own takes both again: ~8 of its ~15 µs for the lock, and ~6 µs for the
check, on the machine of BENCHMARKS.md's 2026-12-07 section.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from logistis.collector.history.gitops import GitOpsSettings
from logistis.collector.store import sqlite_schema as schema
from logistis.collector.store import sqlite_sql as sql
from logistis.collector.store.handoff import HandOff
from logistis.collector.store.protocol import StoreError
from logistis.collector.store.queries import Rows, SQLQueries
from logistis.collector.store.sqlite_files import OpenedFiles


class ThreadReads(SQLQueries):
    """Read-only, opened and used in one thread (the deriver's), closed there."""

    _sql = sql

    def __init__(
        self, path: Path, handoff: HandOff, gitops: GitOpsSettings, files: OpenedFiles | None
    ) -> None:
        self.gitops = gitops
        self._handoff = handoff
        self._files = files
        try:
            self._connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
            for pragma in schema.PRAGMAS_READER:
                self._connection.execute(pragma)
        except sqlite3.Error as error:
            raise StoreError(f"{path}: {error}") from error

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[None]:
        """The reads made inside, in one read transaction (ended on the way out: the WAL can
        then be checkpointed past it)."""
        self._check_files()
        try:
            self._connection.execute("BEGIN")
            yield
        except sqlite3.Error as error:
            raise StoreError(str(error)) from error
        finally:
            if self._connection.in_transaction:
                self._connection.execute("COMMIT")

    async def _fetch(self, statement: str, params: Sequence[Any] = ()) -> Rows:
        if not self._connection.in_transaction:
            self._check_files()
        try:
            return self._connection.execute(statement, params).fetchall()
        except sqlite3.Error as error:
            raise StoreError(str(error)) from error

    def _check_files(self) -> None:
        if self._files is not None:
            # A reader writes to the WAL index too (its read mark).
            self._files.check()

    def close(self) -> None:
        self._connection.close()

"""A damaged or foreign database at start: one line naming the file, exit 1, the file as it was.

Never a silent reset: the history is the point of the collector, and whoever finds it damaged
must be able to copy it away and try to recover it.
"""

from __future__ import annotations

import contextlib
import shutil
import sqlite3
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.collector import CollectorProcess, post_reviews, run_collector_command

from .load import event_count, fresh_review, integrity, recorded_fixtures

PAGE = 4096


@pytest.fixture(scope="module")
def good_database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real database with a few hundred events, closed cleanly."""
    with CollectorProcess(tmp_path_factory.mktemp("good") / "data") as collector:
        post_reviews(collector, [fresh_review(r) for r in recorded_fixtures()])
    return collector.data_dir / "logistis.db"


def overwrite(offset: int, data: bytes) -> Callable[[Path], None]:
    def damage(path: Path) -> None:
        with path.open("r+b") as handle:
            handle.seek(offset)
            handle.write(data)

    return damage


def truncate(fraction: float) -> Callable[[Path], None]:
    def damage(path: Path) -> None:
        with path.open("r+b") as handle:
            handle.truncate(int(path.stat().st_size * fraction) // PAGE * PAGE + 100)

    return damage


def set_pragma(statement: str) -> Callable[[Path], None]:
    def damage(path: Path) -> None:
        with contextlib.closing(sqlite3.connect(path)) as connection:
            connection.execute(statement)

    return damage


DAMAGE = {
    "garbage instead of a database": (lambda p: p.write_bytes(b"\x7fELF" + bytes(range(256)) * 64)),
    "header overwritten": overwrite(0, b"not SQLite at all, sorry"),
    "a b-tree page of garbage": overwrite(3 * PAGE, b"\x55" * PAGE),
    "cut short mid-page": truncate(0.5),
    "a newer schema version": set_pragma("PRAGMA user_version = 99"),
    "another application's empty database": set_pragma("PRAGMA application_id = 1234"),
}


def start(data_dir: Path) -> subprocess.CompletedProcess[str]:
    return run_collector_command(
        [
            "--data-dir",
            str(data_dir),
            "--webhook-listen",
            "127.0.0.1:0",
            "--api-listen",
            "127.0.0.1:0",
        ]
    )


@pytest.mark.parametrize("damage", DAMAGE.values(), ids=DAMAGE.keys())
def test_damaged_database_is_refused_and_left_as_it_was(
    tmp_path: Path, good_database: Path, damage: Callable[[Path], None]
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    database = data / "logistis.db"
    if damage is DAMAGE["another application's empty database"]:
        sqlite3.connect(database).close()
    else:
        shutil.copy(good_database, database)
    damage(database)
    before = database.read_bytes()
    result = start(data)
    assert result.returncode == 1, result.stderr
    errors = [line for line in result.stderr.splitlines() if not line.startswith("{")]
    assert len(errors) == 1, result.stderr
    assert errors[0].startswith(f"logistis-collector: {database}: ")
    assert database.read_bytes() == before


def test_garbage_in_the_wal_is_ignored_and_the_history_kept(
    tmp_path: Path, good_database: Path
) -> None:
    """A torn WAL (a crash mid-write) is what SQLite's checksums are for: the start is clean."""
    data = tmp_path / "data"
    data.mkdir()
    database = data / "logistis.db"
    shutil.copy(good_database, database)
    events = event_count(database)
    database.with_name("logistis.db-wal").write_bytes(bytes(range(256)) * 40)
    with CollectorProcess(data) as collector, collector.client() as api:
        assert api.get("/readyz").status_code == 200
    assert event_count(database) == events
    assert integrity(database) == "ok"


def test_a_database_path_sqlite_cannot_open_is_one_line(tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "logistis.db").mkdir(parents=True)
    result = start(data)
    assert result.returncode == 1, result.stderr
    errors = [line for line in result.stderr.splitlines() if not line.startswith("{")]
    assert errors == [f"logistis-collector: {data / 'logistis.db'}: unable to open database file"]

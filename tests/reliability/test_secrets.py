"""No Secret value from the fixtures, or from Secrets held in odd shapes by a last-applied
annotation, is ever in the database (the SQLite file and its WAL, or every file of the
PostgreSQL server's data directory, and every stored body decompressed), the collector's log
or any API answer: every place is scanned for every value, as sent and decoded."""

from __future__ import annotations

import base64
import contextlib
import copy
import functools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from logistis.collector.admission.redaction import LAST_APPLIED
from logistis.collector.store import StoreURL
from tests.support.collector import CollectorProcess, post_reviews
from tests.support.fixtures import bodies, load
from tests.support.postgres import PostgresServer, psql
from tests.support.secret_shapes import odd_reviews, odd_values
from tests.support.stores import BACKENDS, store_env, stored_bodies, write_locked

SECRET_FIXTURES = (145, 146, 147, 222, 223)
# Long enough not to occur by chance in compressed bytes or in unrelated text.
SCANNABLE = 8
# Rules that read Secret data and fail on it: their error messages are logged.
RULES = """
capture:
  exclude:
    - name: reads-secret-data
      cel: int(object.data.password) > 0 || int(oldObject.data.token) > 0
    - name: compares-secret-data
      cel: object.data.apikey + 1 == 2
"""


def manifests(request: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for name in ("object", "oldObject"):
        obj = request.get(name)
        if obj:
            yield obj
            annotation = obj["metadata"].get("annotations", {}).get(LAST_APPLIED)
            if annotation:
                yield json.loads(annotation)


def secret_values() -> set[str]:
    """Every value as sent (base64 `data`, plain `stringData`), decoded, and re-encoded."""
    values: set[str] = set()
    for number in SECRET_FIXTURES:
        for manifest in manifests(load(number)["body"]["request"]):
            for value in (manifest.get("data") or {}).values():
                values |= {value, base64.b64decode(value).decode()}
            for value in (manifest.get("stringData") or {}).values():
                values |= {value, base64.b64encode(value.encode()).decode()}
    return values | odd_values()


def dropped_secret() -> dict[str, Any]:
    """A Secret answered before its event is committed (the store is locked past the commit
    timeout), so that its request is logged."""
    review = copy.deepcopy(load(145)["body"])
    review["request"]["uid"] = "dropped-secret-uid"
    review["request"]["name"] = review["request"]["object"]["metadata"]["name"] = "dropped-secret"
    return review


@pytest.fixture(scope="module", params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> StoreURL:
    if request.param == "sqlite":
        return StoreURL.sqlite(tmp_path_factory.mktemp("secrets") / "data" / "logistis.db")
    server: PostgresServer = request.getfixturevalue("postgres")
    return server.create_database()


@pytest.fixture(scope="module")
def collector(
    store: StoreURL, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[CollectorProcess]:
    sqlite = store.backend == "sqlite"
    data = store.path.parent if sqlite else tmp_path_factory.mktemp("secrets") / "data"
    data.mkdir(parents=True, exist_ok=True)
    config = data.parent / "config.yaml"
    config.write_text(RULES)
    args = ("--config", str(config), "--log-level", "debug", "--record-dry-run")
    args = ("--commit-timeout", "0.5", *args)
    with CollectorProcess(data, *args, env=store_env(store)) as process:
        answers = post_reviews(process, bodies() + odd_reviews())
        with write_locked(store):
            answers += post_reviews(process, [dropped_secret()])
        assert {a.status_code for a in answers} == {200}
        yield process


def test_the_fixtures_hold_the_values_scanned_for() -> None:
    values = secret_values()
    assert {"hunter2-PLAINTEXT", "correct-horse-battery-staple", "s3cr3t-t0ken"} <= values
    assert len([v for v in values if len(v) >= SCANNABLE]) >= 8


@functools.cache
def scanned_for() -> tuple[bytes, ...]:
    """The values to scan for, read from the fixtures once: a scan of the PostgreSQL server's
    data directory checks thousands of files."""
    return tuple(sorted(v.encode() for v in secret_values() if len(v) >= SCANNABLE))


def assert_clean(where: str, data: bytes) -> None:
    found = [value.decode() for value in scanned_for() if value in data]
    assert not found, f"{where} holds {found}"


def database_files(
    store: StoreURL, collector: CollectorProcess, request: pytest.FixtureRequest
) -> list[Path]:
    if store.backend == "sqlite":
        files = sorted(collector.data_dir.glob("logistis.db*"))
        assert {f.name for f in files} >= {"logistis.db", "logistis.db-wal"}
        return files
    # Everything the server keeps: tables, indexes, TOAST, WAL, after a checkpoint has written
    # out what was only in its buffers.
    server: PostgresServer = request.getfixturevalue("postgres")
    psql(store.url, "CHECKPOINT")
    files = [path for path in server.data_dir.rglob("*") if path.is_file()]
    assert any(path.parent.name == "pg_wal" for path in files)
    return files


def test_no_secret_value_in_the_database_files(
    store: StoreURL, collector: CollectorProcess, request: pytest.FixtureRequest
) -> None:
    for path in database_files(store, collector, request):
        # The server replaces some of its files as it runs (pg_internal.init, temporary
        # files): one gone between the listing and the read holds nothing any more.
        with contextlib.suppress(FileNotFoundError):
            assert_clean(str(path), path.read_bytes())


def test_no_secret_value_in_the_stored_bodies(store: StoreURL, collector: CollectorProcess) -> None:
    """The files hold the bodies compressed, where no scan finds a value: each body is read
    back from the store and decompressed."""
    stored = stored_bodies(store)
    assert len(stored) > 200
    assert any(b"odd-list" in body for body in stored), "the odd shapes were stored"
    for body in stored:
        assert_clean("a stored body", body)


def test_no_secret_value_in_the_log(collector: CollectorProcess) -> None:
    log = collector.log.read_text()
    assert "dropped-secret" in log, "the dropped Secret was logged"
    assert "reads-secret-data" in log, "the failing rule was logged"
    assert_clean("the log", log.encode())


def every_answer(client: httpx.Client) -> Iterator[tuple[str, bytes]]:
    cursor = None
    ids = []
    while True:
        page = client.get(
            "/api/v1/events", params={"limit": 50, **({"cursor": cursor} if cursor else {})}
        )
        yield page.url.path, page.content
        ids += [item["id"] for item in page.json()["items"]]
        cursor = page.json()["next"]
        if cursor is None:
            break
    for event_id in ids:
        yield f"/api/v1/events/{event_id}", client.get(f"/api/v1/events/{event_id}").content
    for path in ("/api/v1/namespaces", "/api/v1/facets", "/metrics", "/api/v1/facets?kind=Secret"):
        yield path, client.get(path).content
    with client.stream("GET", "/api/v1/stream", params={"after": 0}) as stream:
        received = b""
        for chunk in stream.iter_bytes():
            received += chunk
            if received.count(b"\nid: ") + received.startswith(b"id: ") >= len(ids):
                break
        yield "/api/v1/stream", received


def test_no_secret_value_in_any_api_answer(collector: CollectorProcess) -> None:
    with collector.client() as client:
        answers = list(every_answer(client))
        secrets = client.get("/api/v1/events", params={"kind": "Secret", "limit": 100}).json()
        details = [client.get(f"/api/v1/events/{e['id']}").json() for e in secrets["items"]]
    assert len(answers) > 200
    for where, body in answers:
        assert_clean(where, body)
    # Values too short to scan for ("app") are checked where they would be: every one a digest.
    assert len(details) >= len(SECRET_FIXTURES)
    for detail in details:
        for name in ("object", "oldObject"):
            for value in ((detail[name] or {}).get("data") or {}).values():
                assert value.startswith("redacted:sha256:")

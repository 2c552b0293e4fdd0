"""Data for the benchmarks: realistic write streams, and a large store built from the fixtures.

Streams are AdmissionReview requests derived from the captured fixtures, each one the next
version of the same object, as the apiserver would send them. The large store is filled with
the store's own insert (indexes, aggregates and per-resource retention included) from events
built by `collector.admission.event_from_request` and encoded by the writer's own functions.
"""

from __future__ import annotations

import copy
import itertools
import random
import sqlite3
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from logistis.collector.admission.kinds import KindResolver
from logistis.collector.admission.redaction import Redactor
from logistis.collector.admission.review import event_from_request
from logistis.collector.history.events import Event, time_to_ms
from logistis.collector.metrics import Metrics
from logistis.collector.pipeline.deriver import Deriver
from logistis.collector.pipeline.progress import Progress
from logistis.collector.pipeline.writer import Writer
from logistis.collector.store import StoreURL, encode_event, open_store
from logistis.collector.store.postgres import PostgresStore
from logistis.collector.store.sqlite import SQLiteStore as Store
from logistis.collector.store.sqlite_writes import insert_rows

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.support.fixtures import bodies, load  # noqa: E402
from tests.support.postgres import psql  # noqa: E402

Request = dict[str, Any]
Mutation = Callable[[dict[str, Any], int], None]

PEOPLE = ("alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy")
MACHINES = (
    "system:serviceaccount:kube-system:deployment-controller",
    "system:serviceaccount:kube-system:replicaset-controller",
    "system:kube-controller-manager",
    "system:serviceaccount:argocd:argocd-application-controller",
    "system:apiserver",
)


# -- realistic streams ----------------------------------------------------------------------


def object_stream(fixture: int, count: int, mutations: tuple[Mutation, ...]) -> Iterator[Request]:
    """`count` UPDATE requests to one object, each applying the next mutation in turn."""
    request = load(fixture)["body"]["request"]
    current = request["object"]
    for number, mutate in zip(range(count), itertools.cycle(mutations)):
        updated = copy.deepcopy(current)
        mutate(updated, number)
        _bump_metadata(updated, number)
        yield {
            **request,
            "uid": str(uuid.uuid4()),
            "object": updated,
            "oldObject": current,
        }
        current = updated


def _bump_metadata(obj: dict[str, Any], number: int) -> None:
    metadata = obj["metadata"]
    metadata["resourceVersion"] = str(int(metadata.get("resourceVersion", "1")) + 7 + number)
    metadata["generation"] = metadata.get("generation", 1) + 1
    stamp = (datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=number)).isoformat()
    for entry in metadata.get("managedFields", []):
        entry["time"] = stamp[:19] + "Z"


def _scale(obj: dict[str, Any], number: int) -> None:
    obj["spec"]["replicas"] = 1 + number % 7


def _image(obj: dict[str, Any], number: int) -> None:
    obj["spec"]["template"]["spec"]["containers"][0]["image"] = f"nginx:1.{number % 30}.{number}"


def _label(obj: dict[str, Any], number: int) -> None:
    obj["metadata"].setdefault("labels", {})["release"] = f"r{number}"


def _data(obj: dict[str, Any], number: int) -> None:
    data = obj.setdefault("data", {})
    data[f"key-{number % 5}"] = f"value-{number}-" + "x" * (number % 40)


# 096: alice's `kubectl apply` to a Deployment, with its last-applied annotation; 144 and
# 146: bob's to a ConfigMap and a Secret.
DEPLOYMENT, CONFIGMAP, SECRET = 96, 144, 146


def deployment_updates(count: int) -> Iterator[Request]:
    return object_stream(DEPLOYMENT, count, (_scale, _image, _label))


def configmap_updates(count: int) -> Iterator[Request]:
    return object_stream(CONFIGMAP, count, (_data,))


def secret_updates(count: int) -> Iterator[Request]:
    return object_stream(SECRET, count, (_data,))


def held_out() -> set[tuple[str, str]]:
    """(namespace, name) of the streamed objects: the codec's dictionary is not trained on them."""
    requests = [load(number)["body"]["request"] for number in (DEPLOYMENT, CONFIGMAP, SECRET)]
    return {(r["namespace"], r["name"]) for r in requests}


STREAMS: dict[str, Callable[[int], Iterator[Request]]] = {
    "Deployment updates (scale, image, labels)": deployment_updates,
    "ConfigMap updates": configmap_updates,
    "Secret updates (redacted)": secret_updates,
}


async def storage_cost(requests: list[Request], url: StoreURL) -> dict[str, float]:
    """Bytes the store grows by per event, through the real redaction, writer and store."""
    redactor = Redactor(b"benchmark-redaction-key-32-bytes")
    kinds = KindResolver()
    raw = sum(len(orjson.dumps(r["object"])) + len(orjson.dumps(r["oldObject"])) for r in requests)
    async with open_store(url, max_events_per_resource=10**9) as store:
        before = await _bytes(store)
        writer = Writer(store, Metrics())
        writer.start()
        now = datetime.now(UTC)
        for request in requests:
            await writer.submit(event_from_request(redactor.redact(request), now, kinds))
        await writer.close()
        # The change summaries are derived after the commit: counted once all are in.
        deriver = Deriver(store, writer.committed, Progress(Metrics()))
        while not await deriver.derive_once():
            pass
        after = await _bytes(store)
        exported = await store.export_rows(0, len(requests))
    body = sum(len(row[-1]) for row in exported)
    return {
        "events": len(requests),
        "db_bytes_per_event": (after - before) / len(requests),
        "body_bytes_per_event": body / len(requests),
        "raw_bytes_per_event": raw / len(requests),
    }


async def _bytes(store: Any) -> int:
    """SQLite: the file's used pages; PostgreSQL: every relation of the history on disk."""
    if isinstance(store, PostgresStore):
        return await store.relation_bytes()
    return int(await store.used_bytes())


# -- a large store ----------------------------------------------------------------------------


def fixture_events() -> list[Event]:
    """Every fixture as an event, as the webhook builds it."""
    kinds = KindResolver()
    now = datetime.now(UTC)
    return [event_from_request(body["request"], now, kinds) for body in bodies()]


def synthetic_rows(count: int, seed: int = 6) -> Iterator[tuple[Any, ...]]:
    """`count` INSERT rows: fixture events under varied users, namespaces, names and times.

    Bodies are the fixtures' own encoded blobs (each row stores its own copy); the columns
    that queries filter on vary. Times rise with the id over the last 90 days, as real
    history does.
    """
    rng = random.Random(seed)
    templates = [encode_event(event).row for event in fixture_events()]
    namespaces = [f"team-{n:03d}" for n in range(200)]
    users = [*PEOPLE, *MACHINES]
    weights = [3] * len(PEOPLE) + [10] * len(MACHINES)
    end_ms = time_to_ms(datetime.now(UTC))
    start_ms = end_ms - 90 * 86_400_000
    for number in range(count):
        row = list(rng.choice(templates))
        row[0] = f"bench-{number:012d}"
        row[1] = start_ms + (end_ms - start_ms) * number // count
        row[4] = rng.choices(users, weights)[0]
        if row[11]:
            row[11] = rng.choice(namespaces)
        row[12] = f"{row[12] or 'object'}-{rng.randrange(500)}"
        yield tuple(row)


# A history filled in bulk, outside the writer, stands for one recorded by the collector, whose
# deriver passed each event as it came: its change summaries are in its rows, and no synthetic
# event keeps an unusual judgement (reads cost what they cost for any derived event). Without
# the mark, the collector's deriver would judge the million events while the queries are timed.
MARK_FILLED = (
    "UPDATE config SET value = (SELECT coalesce(max(id), 0) FROM events)"
    " WHERE key = 'derived_up_to'"
)

# Who acted, as the deriver would have kept it for every event: the insights count by it. One
# event of a person in 50 a hand edit (the same SQL on both stores).
PROVENANCE_FILLED = """
    INSERT INTO provenance (id, actor, hand_edit)
    SELECT id,
           CASE WHEN username LIKE 'system:serviceaccount:argocd:%' THEN 'gitops'
                WHEN username LIKE 'system:%' THEN 'controller' ELSE 'person' END,
           username NOT LIKE 'system:%' AND id % 50 = 0
    FROM events
"""


async def create_schema(path: Path) -> None:
    async with Store.open(path):
        pass


def fill_store(path: Path, count: int, chunk: int = 50_000) -> float:
    """Insert `count` synthetic events; returns the seconds it took."""
    started = time.perf_counter()
    connection = sqlite3.connect(path, isolation_level=None)
    # Only while building: a crash here just means building again.
    connection.execute("PRAGMA synchronous=OFF")
    connection.execute("PRAGMA cache_size=-262144")
    rows = synthetic_rows(count)
    while batch := list(itertools.islice(rows, chunk)):
        connection.execute("BEGIN")
        insert_rows(connection, batch)
        connection.execute("COMMIT")
    connection.execute(MARK_FILLED)
    connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    connection.close()
    return time.perf_counter() - started


async def fill_postgres(url: StoreURL, count: int, chunk: int = 20_000) -> float:
    """Insert `count` synthetic events into a PostgreSQL store with the store's own statement
    (triggers, indexes and per-resource retention included); returns the seconds it took."""
    started = time.perf_counter()
    async with open_store(url) as store:
        assert isinstance(store, PostgresStore)
        rows = synthetic_rows(count)
        while batch := list(itertools.islice(rows, chunk)):
            await store.import_rows([(None, *row) for row in batch])
    psql(url.url, MARK_FILLED)
    # As autovacuum would after such a load: visibility map and planner statistics.
    psql(url.url, "VACUUM ANALYZE")
    return time.perf_counter() - started

"""Several real collectors on one PostgreSQL database, as the HA Deployment runs them, and a
client that spreads admission requests across the ready ones as a Service does."""

from __future__ import annotations

import contextlib
import itertools
import shutil
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from logistis.collector.store import StoreURL
from logistis.collector.trust.tls import ensure_dev_certificate
from tests.support.collector import CollectorProcess
from tests.support.fixtures import bodies
from tests.support.stores import store_env


@contextlib.contextmanager
def replicas(
    tmp_path: Path, url: StoreURL, count: int, *args: str, timeout: float = 20.0
) -> Iterator[list[CollectorProcess]]:
    """`count` collectors on one database, sharing one redaction key, started at one moment
    (as a Deployment's replicas are) and stopped after."""
    key = tmp_path / "redaction.key"
    key.write_bytes(uuid.uuid4().bytes * 2)
    collectors = [
        CollectorProcess(
            tmp_path / f"replica-{n}", "--redaction-key-file", str(key), *args, env=store_env(url)
        )
        for n in range(count)
    ]
    try:
        for collector in collectors:
            collector.launch()
        yield [collector.wait_ready(timeout) for collector in collectors]
    finally:
        # All at once: each drains for its --drain-seconds before it exits.
        for collector in collectors:
            collector.terminate()
        for collector in collectors:
            collector.stop()


def share_one_port(collectors: list[CollectorProcess]) -> None:
    """Before they start: every collector on the first one's webhook port, serving its
    certificate (they must be started with --reuse-port), as replicas behind one Service."""
    first = collectors[0]
    cert, key = ensure_dev_certificate(first.data_dir)
    for collector in collectors[1:]:
        collector.data_dir.mkdir(parents=True, exist_ok=True)
        collector.webhook_port = first.webhook_port
        for path in (cert, key):
            shutil.copy2(path, collector.data_dir / path.name)


@dataclass
class Outcomes:
    acknowledged: list[str] = field(default_factory=list)
    """Request uids answered 200 with allowed: true."""
    failed: list[str] = field(default_factory=list)
    """Every other outcome, each as `replica: what`."""


class Balancer:
    """Steady admission writes spread over the collectors that answer /readyz with 200, as a
    Service's endpoints are: a replica leaves the rotation when it turns unready, and joins
    again once ready."""

    def __init__(self, collectors: list[CollectorProcess], workers: int = 4) -> None:
        self.collectors = collectors
        self.outcomes = Outcomes()
        # Replaced whole by the watcher, never changed in place: the workers read it unlocked.
        self._ready: tuple[int, ...] = tuple(range(len(collectors)))
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._watch)] + [
            threading.Thread(target=self._post) for _ in range(workers)
        ]

    def __enter__(self) -> Balancer:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(30)

    def _watch(self) -> None:
        with httpx.Client(timeout=1) as client:
            while not self._stop.is_set():
                self._ready = tuple(
                    index
                    for index, collector in enumerate(self.collectors)
                    if _ready(client, collector)
                )
                self._stop.wait(0.05)

    def _post(self) -> None:
        templates = [b for b in bodies() if not b["request"]["dryRun"]]
        clients = [collector.webhook_client() for collector in self.collectors]
        # Each worker takes the ready replicas in turn, so each of its connections is used
        # while its replica drains (and closed by it), as the apiserver's many are.
        turn = itertools.count()
        try:
            for body in itertools.cycle(templates):
                if self._stop.is_set():
                    return
                ready = self._ready
                if not ready:
                    self._stop.wait(0.01)
                    continue
                index = ready[next(turn) % len(ready)]
                self._post_one(index, clients[index], body)
        finally:
            for client in clients:
                client.close()

    def _post_one(self, index: int, client: httpx.Client, body: dict) -> None:
        uid = body["request"]["uid"] = str(uuid.uuid4())
        try:
            answer = client.post(self.collectors[index].webhook_url, json=body)
        except httpx.TransportError as error:
            self.outcomes.failed.append(f"{index}: {type(error).__name__} {error}")
            return
        if answer.status_code == 200 and answer.json()["response"]["allowed"]:
            self.outcomes.acknowledged.append(uid)
        else:
            self.outcomes.failed.append(f"{index}: {answer.status_code} {answer.text[:200]}")


def _ready(client: httpx.Client, collector: CollectorProcess) -> bool:
    try:
        return client.get(f"{collector.api_url}/readyz").status_code == 200
    except httpx.TransportError:
        return False

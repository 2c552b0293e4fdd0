"""`make demo`: a local collector with weeks of realistic history, live traffic, and the TUI on it.

The history is the captured scenario (testdata/admission) replayed as many
"episodes": each one moves the scenario to other namespaces, gives its people other names,
and happens on another day, so the collector holds several users, namespaces and kinds over
a spread of time. Backdated events are written into the store before the collector starts
(the webhook stamps every request with the time it arrives); while the TUI runs, the scenario
is played again live, in namespaces of its own, a person's request every few seconds. Only the
episode below has marks: everything else is as continuous as a real cluster's history.

One episode, the day before, shows what logistis says where its history has holes
(docs/trust.md): the collector crashed and was started again while alice's `owner` label
patch went by (a blind spot, and a gap at her next patch), her `kubectl scale` timed out at
the webhook (a gap at the next event), and one `kubectl set image` of hers was refused by a
later admission step (a change that never landed). The demo's own collector starts after the
seeded history was written: the moment between shows as a blind spot too, a restart.

    .venv/bin/python tools/demo.py                   # the demo
    .venv/bin/python tools/demo.py --events 100000 --no-tui   # a big store, collector only
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from logistis.collector.admission import event_from_request
from logistis.collector.events import time_to_ms
from logistis.collector.kinds import KindResolver
from logistis.collector.redaction import Redactor
from logistis.collector.runtime import KEY_FILE, load_or_create_key
from logistis.collector.store import Store, StoreURL, open_store
from logistis.tui.app.app import ConnectionSettings, LogistisApp
from logistis.tui.core.events import EventFilter

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(os.environ.get("LOGISTIS_FIXTURES", ROOT / "testdata" / "admission"))
COLLECTOR = Path(sys.executable).with_name("logistis-collector")

PEOPLE = ("alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi")
NAMESPACES = ("payments", "checkout", "search", "web", "data", "team-a", "team-b")
DEPLOYMENTS = ("nginx", "frontend", "cart", "ledger", "indexer")
# The people of the captured scenario, and the deployment it names `nginx`.
SCENARIO_PEOPLE = ("alice", "bob", "carol", "dave")
BATCH = 1000
# In the troubled episode: alice's scale (059) and her `owner` label patch (082) are missing,
# the latter while no collector ran; before her `set image` (071) comes a refused one.
TIMED_OUT, DURING_CRASH, SET_IMAGE = 59, 82, 71
REFUSED_IMAGE = "nginx:1.26-rc0"
# When the demo's cluster was made: before any history it is given.
CLUSTER_CREATED = "2025-01-06T09:00:00Z"


@dataclass(frozen=True, slots=True)
class Episode:
    """One replay of the scenario: where it happens, who does it, and when it starts."""

    renames: dict[str, str]
    start: datetime
    step: timedelta


def numbered_requests() -> list[tuple[int, dict[str, Any]]]:
    """The captured requests with their fixture numbers, dry runs left out (the collector's
    default capture rules do not record them)."""
    files = sorted(FIXTURES.glob("[0-9][0-9][0-9]-*.json"))
    if not files:
        sys.exit(f"demo: no AdmissionReview fixtures in {FIXTURES} (set LOGISTIS_FIXTURES)")
    reviews = [(int(path.name[:3]), json.loads(path.read_text())["body"]) for path in files]
    requests = [(n, r["request"]) for n, r in reviews if not r["request"].get("dryRun")]
    return backdate_preexisting(requests)


def backdate_preexisting(
    requests: list[tuple[int, dict[str, Any]]],
) -> list[tuple[int, dict[str, Any]]]:
    """The cluster's own objects that the scenario only changes (its ClusterRoles, its lease)
    made as old as a cluster's: captured, they were created minutes before the capture, which
    the backdated history places after recording began, so that each one's first update would
    say its creation went unrecorded (a gap, docs/trust.md)."""
    created = {_object_key(r) for _, r in requests if _creates(r)}
    for _, request in requests:
        if _object_key(request) in created:
            continue
        for side in ("object", "oldObject"):
            metadata = (request.get(side) or {}).get("metadata")
            if isinstance(metadata, dict) and "creationTimestamp" in metadata:
                metadata["creationTimestamp"] = CLUSTER_CREATED
    return requests


def _creates(request: dict[str, Any]) -> bool:
    return request["operation"] == "CREATE" and not request.get("subResource")


def _object_key(request: dict[str, Any]) -> tuple[str, str, str, str]:
    resource = request["resource"]
    return (
        resource["group"],
        resource["resource"],
        request.get("namespace", ""),
        request.get("name", ""),
    )


def load_requests() -> list[dict[str, Any]]:
    return [request for _, request in numbered_requests()]


def episode(rng: random.Random, start: datetime, *, unique: str = "") -> Episode:
    people = rng.sample(PEOPLE, len(SCENARIO_PEOPLE))
    team_a, team_b = rng.sample(NAMESPACES, 2)
    renames = {
        "team-a": team_a + unique,
        "team-b": team_b + unique,
        "nginx": rng.choice(DEPLOYMENTS),
        **dict(zip(SCENARIO_PEOPLE, people, strict=True)),
        **{f"uid-{old}": f"uid-{new}" for old, new in zip(SCENARIO_PEOPLE, people, strict=True)},
    }
    return Episode(renames, start, timedelta(seconds=rng.uniform(2, 12)))


def rewrite(request: dict[str, Any], renames: dict[str, str]) -> dict[str, Any]:
    """The request with every JSON string equal to a renamed value replaced."""

    def walk(value: Any) -> Any:
        if isinstance(value, str):
            return renames.get(value, value)
        if isinstance(value, list):
            return [walk(v) for v in value]
        if isinstance(value, dict):
            return {k: walk(v) for k, v in value.items()}
        return value

    rewritten = walk(request)
    rewritten["uid"] = f"{request['uid'][:24]}{random.getrandbits(48):012x}"
    return rewritten


@dataclass(frozen=True, slots=True)
class BlindSpot:
    """When the seeded history had no collector recording: from a crash to the next start."""

    crashed: datetime
    started: datetime


def history(
    count: int, days: float, seed: int
) -> tuple[list[tuple[datetime, dict[str, Any]]], BlindSpot | None]:
    """`count` requests, oldest first, spread over the last `days` days, and the blind spot of
    the troubled episode (None when the history is too short to hold it)."""
    requests = numbered_requests()
    episodes = max(1, -(-count // len(requests)))
    troubled = max(0, episodes - 2)
    out: list[tuple[datetime, dict[str, Any]]] = []
    spot: BlindSpot | None = None
    for number, plan in enumerate(_episodes(episodes, days, random.Random(seed))):
        times = {n: plan.start + plan.step * i for i, (n, _) in enumerate(requests)}
        for fixture, request in requests:
            if len(out) == count:
                return out, spot
            if number and request.get("namespace") not in ("team-a", "team-b"):
                continue  # the cluster's own objects (kube-system, cluster-scoped): only once
            if number == troubled and fixture in (TIMED_OUT, DURING_CRASH):
                continue
            if number == troubled and fixture == SET_IMAGE:
                out.append((times[fixture] - plan.step / 2, refused(request, plan.renames)))
            out.append((times[fixture], rewrite(request, plan.renames)))
        if number == troubled:
            step = plan.step / 4
            spot = BlindSpot(times[DURING_CRASH] - step, times[DURING_CRASH] + step)
    return out, spot


def refused(request: dict[str, Any], renames: dict[str, str]) -> dict[str, Any]:
    """The `set image` request with an image a later admission step refused: same old object."""
    attempt = rewrite(request, renames)
    attempt["object"]["spec"]["template"]["spec"]["containers"][0]["image"] = REFUSED_IMAGE
    return attempt


def _episodes(episodes: int, days: float, rng: random.Random) -> Iterator[Episode]:
    now = datetime.now(UTC)
    first = now - timedelta(days=days)
    # The last episode starts an hour ago, so the newest history is fresh when the demo opens.
    spacing = (now - first - timedelta(hours=1)) / max(1, episodes - 1)
    # Each episode gets namespaces of its own: the scenario creates its objects, and creating
    # them again where they still exist would be a history no cluster can have (logistis
    # would rightly show every one as a gap).
    for number in range(episodes):
        start = first + spacing * number + timedelta(seconds=rng.uniform(0, 600))
        yield episode(rng, start, unique=f"-{number + 1}")


async def seed(data_dir: Path, count: int, days: float, per_resource: int) -> int:
    """Write `count` backdated events straight into the store, as the collector would."""
    redactor = Redactor(load_or_create_key(data_dir / KEY_FILE))
    kinds = KindResolver()
    written = 0
    requests, spot = history(count, days, seed=7)
    url = StoreURL.sqlite(data_dir / "logistis.db")
    async with open_store(url, max_events_per_resource=per_resource) as store:
        await _heartbeats(store, requests[0][0] - timedelta(hours=1), spot)
        batch = []
        for moment, request in requests:
            event = event_from_request(redactor.redact(request), moment, kinds)
            batch.append(event)
            if len(batch) == BATCH:
                await store.record(batch)
                written, batch = written + len(batch), []
        if batch:
            await store.record(batch)
            written += len(batch)
    return written


async def _heartbeats(store: Store, first: datetime, spot: BlindSpot | None) -> None:
    """The runs of the collectors that recorded the seeded history: one crashed in the
    troubled episode and was started again; the last stops as the demo's own starts."""
    now = datetime.now(UTC)
    if spot is None:
        await _run(store, "demo-seed/0", first, now, stopped=True)
        return
    await _run(store, "demo-seed/0", first, spot.crashed, stopped=False)
    await _run(store, "demo-seed/1", spot.started, now, stopped=True)


async def _run(store: Store, name: str, start: datetime, end: datetime, *, stopped: bool) -> None:
    started = time_to_ms(start)
    await store.start_run(name, started)
    if stopped:
        await store.stop_run(name, started, time_to_ms(end))
    else:
        await store.beat(name, started, time_to_ms(end))  # and then nothing: a crash


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Collector:
    data_dir: Path
    per_resource: int
    webhook_port: int = 0
    api_port: int = 0
    process: subprocess.Popen[bytes] | None = None

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def webhook_url(self) -> str:
        return f"https://127.0.0.1:{self.webhook_port}/validate?timeout=5s"

    def start(self) -> None:
        self.webhook_port, self.api_port = free_port(), free_port()
        command = [
            str(COLLECTOR),
            "--data-dir", str(self.data_dir),
            "--webhook-listen", f"127.0.0.1:{self.webhook_port}",
            "--api-listen", f"127.0.0.1:{self.api_port}",
            "--max-events-per-resource", str(self.per_resource),
            "--log-format", "json",
        ]  # fmt: skip
        with (self.data_dir / "collector.log").open("ab") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=log)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                sys.exit(f"demo: the collector exited; see {self.data_dir / 'collector.log'}")
            try:
                if httpx.get(f"{self.api_url}/readyz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.1)
        sys.exit("demo: the collector did not become ready within 30s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def live_requests(rng: random.Random) -> Iterator[dict[str, Any]]:
    """The scenario again and again, in order, each time in namespaces of its own, as the
    seeded episodes after the first: the live history is as continuous as theirs (requests
    picked at random would each find their object changed unrecorded, a gap)."""
    requests = load_requests()
    for number in itertools.count(1):
        plan = episode(rng, datetime.now(UTC), unique=f"-live{number}")
        for request in requests:
            if request.get("namespace") in ("team-a", "team-b"):
                yield rewrite(request, plan.renames)


def feed_live(collector: Collector, interval: float, stop: threading.Event) -> None:
    """Post the live requests to the webhook, one by a person every `interval` seconds (the
    machines' in between at once), until `stop`."""
    verify = str(collector.data_dir / "tls-dev.crt")
    review = {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview"}
    with httpx.Client(verify=verify, timeout=10) as client:
        for request in live_requests(random.Random()):
            person = not request["userInfo"]["username"].startswith("system:")
            if stop.wait(interval if person else 0):
                return
            try:
                client.post(collector.webhook_url, json={**review, "request": request})
            except httpx.TransportError:
                continue  # the collector is stopping; the loop ends with the demo


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=3000, help="backdated events (3000)")
    parser.add_argument("--days", type=float, default=14, help="spread over this many days")
    parser.add_argument("--interval", type=float, default=3, help="seconds between live events")
    parser.add_argument("--data-dir", type=Path, help="keep the store here (default: temporary)")
    parser.add_argument("--no-tui", action="store_true", help="run the collector until Ctrl-C")
    return parser.parse_args()


def main() -> int:
    args = arguments()
    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="logistis-demo-"))
    data_dir.mkdir(parents=True, exist_ok=True)
    per_resource = max(100, args.events)
    started = time.monotonic()
    written = asyncio.run(seed(data_dir, args.events, args.days, per_resource))
    print(f"demo: {written} events over {args.days:g} days in {time.monotonic() - started:.1f}s")
    collector = Collector(data_dir, per_resource)
    stop = threading.Event()
    try:
        collector.start()
        print(f"demo: collector API at {collector.api_url}, webhook at {collector.webhook_url}")
        quit_signals = {signal.SIGINT, signal.SIGTERM}
        if args.no_tui:
            # Blocked before the feeder starts, so both threads leave them to sigwait.
            signal.pthread_sigmask(signal.SIG_BLOCK, quit_signals)
        feeder = threading.Thread(target=feed_live, args=(collector, args.interval, stop))
        feeder.start()
        if args.no_tui:
            signal.sigwait(quit_signals)
            return 0
        app = LogistisApp(ConnectionSettings(url=collector.api_url), EventFilter(people=True))
        app.run()
        # Textual sets 1 when the app ended on an exception: `make demo` fails with it.
        return app.return_code or 0
    finally:
        stop.set()
        collector.stop()
        if args.data_dir is None:
            shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

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

Beside them, Argo CD and Flux at work over the last days (`gitops_story`): a hand edit
Argo CD's self-heal put back, one Flux left in place, and the revision of each of their writes.

    .venv/bin/python tools/demo.py                   # the demo
    .venv/bin/python tools/demo.py --events 100000 --no-tui   # a big store, collector only
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import heapq
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
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from logistis.client.events import EventFilter
from logistis.collector.admission.kinds import KindResolver
from logistis.collector.admission.redaction import Redactor
from logistis.collector.admission.review import event_from_request
from logistis.collector.history.events import time_to_ms
from logistis.collector.runtime import KEY_FILE, load_or_create_key
from logistis.collector.store import Store, StoreURL, open_store
from logistis.tui.app import ConnectionSettings, LogistisApp

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


# -- GitOps: Argo CD and Flux at work, and people's hand edits of what they manage -------------
# Argo CD's Application `shop` syncs the Deployment shop/web at two revisions; carol scales it
# by hand and Argo CD's self-heal puts it back. Flux's Kustomization `apps` applies blog/ghost;
# erin adds an environment variable by hand, which Flux's next revision leaves in place.

ARGOCD_SA = "system:serviceaccount:argocd:argocd-application-controller"
FLUX_SA = "system:serviceaccount:flux-system:kustomize-controller"
ARGOCD_REVISIONS = (
    "3d1f0a94c2b7e85d6a1f0c3b9e2d7a4c6b8f1e05",
    "a7c4e19b3f02d8c6e5b1a9d4f7c3e2b0d8a6f914",
)
FLUX_REVISIONS = (
    "main@sha1:5e8b2c71d4a9f3e06b1c8d2a7f4e9b3c0d6a1e28",
    "main@sha1:c92f4a18e7b3d05c6a9e1f2b8d4c7a3e0f5b9d61",
)
APPLICATION = {"group": "argoproj.io", "version": "v1alpha1", "kind": "Application"}
KUSTOMIZATION = {"group": "kustomize.toolkit.fluxcd.io", "version": "v1", "kind": "Kustomization"}
DEPLOYMENT = {"group": "apps", "version": "v1", "kind": "Deployment"}
SCALE = {"group": "autoscaling", "version": "v1", "kind": "Scale"}


@dataclass(frozen=True, slots=True)
class Who:
    """A request's user and field manager."""

    username: str
    groups: tuple[str, ...]
    manager: str


ARGOCD = Who(
    ARGOCD_SA, ("system:serviceaccounts", "system:serviceaccounts:argocd"), "argocd-controller"
)
FLUX = Who(
    FLUX_SA,
    ("system:serviceaccounts", "system:serviceaccounts:flux-system"),
    "kustomize-controller",
)
CAROL = Who("carol", ("dev-team", "system:authenticated"), "kubectl-scale")
ERIN = Who("erin", ("dev-team", "system:authenticated"), "kubectl-set")


@dataclass
class Tracked:
    """An object as the apiserver keeps it: each write sees the current version and leaves the
    next one, with the next resourceVersion (the history stays continuous)."""

    kind: dict[str, str]
    resource: str
    current: dict[str, Any]

    def create(self, who: Who) -> dict[str, Any]:
        return _gitops_request(self.kind, self.resource, who, None, self.current)

    def write(self, who: Who, change: Any, *, subresource: str = "") -> dict[str, Any]:
        old = self.current
        new = copy.deepcopy(old)
        change(new)
        new["metadata"]["resourceVersion"] = str(int(old["metadata"]["resourceVersion"]) + 1)
        self.current = new
        if subresource == "scale":
            return _gitops_request(SCALE, self.resource, who, _scale(old), _scale(new), "scale")
        return _gitops_request(self.kind, self.resource, who, old, new, subresource)


def _gitops_request(
    kind: dict[str, str],
    resource: str,
    who: Who,
    old: dict[str, Any] | None,
    new: dict[str, Any],
    subresource: str = "",
) -> dict[str, Any]:
    group, version = (
        new["apiVersion"].rpartition("/")[::2] if subresource != "scale" else ("apps", "v1")
    )
    named = {"group": group, "version": version, "resource": resource}
    operation = "CREATE" if old is None else "UPDATE"
    return {
        "uid": str(uuid.uuid4()),
        "kind": kind, "requestKind": kind,
        "resource": named, "requestResource": named,
        "subResource": subresource, "requestSubResource": subresource,
        "name": new["metadata"]["name"], "namespace": new["metadata"]["namespace"],
        "operation": operation,
        "userInfo": {"username": who.username, "uid": "", "groups": list(who.groups)},
        "object": new, "oldObject": old, "dryRun": False,
        "options": {
            "kind": f"{operation.title()}Options",
            "apiVersion": "meta.k8s.io/v1",
            "fieldManager": who.manager,
        },
    }  # fmt: skip


def _scale(deployment: dict[str, Any]) -> dict[str, Any]:
    """The Scale `kubectl scale` sends: no labels, no annotations, only the replicas."""
    metadata = deployment["metadata"]
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {k: metadata[k] for k in ("name", "namespace", "uid", "resourceVersion")},
        "spec": {"replicas": deployment["spec"]["replicas"]},
    }


def _object(kind: dict[str, str], namespace: str, name: str, spec: dict[str, Any],
            **metadata: Any) -> dict[str, Any]:  # fmt: skip
    return {
        "apiVersion": f"{kind['group']}/{kind['version']}",
        "kind": kind["kind"],
        "metadata": {
            "name": name,
            "namespace": namespace,
            "uid": str(uuid.uuid4()),
            "resourceVersion": "100",
            "creationTimestamp": CLUSTER_CREATED,
            **metadata,
        },
        "spec": spec,
        "status": {},
    }


def _deployment(namespace: str, name: str, image: str, replicas: int, **metadata: Any) -> dict:
    container = {"name": name, "image": image, "ports": [{"containerPort": 8080}]}
    spec = {
        "replicas": replicas,
        "selector": {"matchLabels": {"app": name}},
        "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [container]}},
    }
    return _object(DEPLOYMENT, namespace, name, spec, **metadata)


def _syncing(revision: str, *, automated: bool = False) -> Any:
    def change(app: dict[str, Any]) -> None:
        operation = {"sync": {"revision": revision}, "initiatedBy": {"automated": automated}}
        app["operation"] = operation
        app["status"]["operationState"] = {"operation": operation, "phase": "Running"}

    return change


def _synced(revision: str) -> Any:
    def change(app: dict[str, Any]) -> None:
        app.pop("operation", None)
        state = app["status"]["operationState"]
        state |= {"phase": "Succeeded", "syncResult": {"revision": revision}}
        app["status"]["sync"] = {"status": "Synced", "revision": revision}
        history = app["status"].setdefault("history", [])
        history.append({"id": len(history), "revision": revision})

    return change


def _reconciled(revision: str, *, applied: bool) -> Any:
    def change(kustomization: dict[str, Any]) -> None:
        status = kustomization["status"]
        status["lastAttemptedRevision"] = revision
        if applied:
            status["lastAppliedRevision"] = revision
        ready = ("True", "ReconciliationSucceeded") if applied else ("Unknown", "Progressing")
        status["conditions"] = [{"type": "Ready", "status": ready[0], "reason": ready[1]}]

    return change


def _image(image: str) -> Any:
    return lambda d: d["spec"]["template"]["spec"]["containers"][0].update(image=image)


def _replicas(count: int) -> Any:
    return lambda d: d["spec"].update(replicas=count)


def _env(name: str, value: str) -> Any:
    return lambda d: (
        d["spec"]["template"]["spec"]["containers"][0]
        .setdefault("env", [])
        .append({"name": name, "value": value})
    )


def gitops_story(now: datetime) -> list[tuple[datetime, dict[str, Any]]]:
    """Argo CD's and Flux's writes and the hand edits between them, oldest first."""
    tracking = {"argocd.argoproj.io/tracking-id": "shop:apps/Deployment:shop/web"}
    flux_labels = {
        "kustomize.toolkit.fluxcd.io/name": "apps",
        "kustomize.toolkit.fluxcd.io/namespace": "flux-system",
    }
    app = Tracked(APPLICATION, "applications", _object(APPLICATION, "argocd", "shop", {
        "project": "default",
        "source": {"repoURL": "https://git.example.com/shop.git", "path": "deploy"},
        "destination": {"namespace": "shop"},
        "syncPolicy": {"automated": {"selfHeal": True}},
    }))  # fmt: skip
    web = Tracked(
        DEPLOYMENT,
        "deployments",
        _deployment("shop", "web", "shop/web:1.4", 2, annotations=tracking),
    )
    apps = Tracked(
        KUSTOMIZATION,
        "kustomizations",
        _object(
            KUSTOMIZATION,
            "flux-system",
            "apps",
            {"path": "./apps", "prune": True, "interval": "10m"},
        ),
    )
    ghost = Tracked(
        DEPLOYMENT, "deployments", _deployment("blog", "ghost", "ghost:5.0", 1, labels=flux_labels)
    )
    first, second = ARGOCD_REVISIONS
    x, z = FLUX_REVISIONS
    steps: list[tuple[timedelta, dict[str, Any]]] = [
        (timedelta(days=3), apps.write(FLUX, _reconciled(x, applied=False), subresource="status")),
        (timedelta(days=3) - timedelta(seconds=4), ghost.create(FLUX)),
        (timedelta(days=3) - timedelta(seconds=8), apps.write(FLUX, _reconciled(x, applied=True), subresource="status")),
        (timedelta(days=2), app.write(ARGOCD, _syncing(first))),
        (timedelta(days=2) - timedelta(seconds=3), web.create(ARGOCD)),
        (timedelta(days=2) - timedelta(seconds=6), app.write(ARGOCD, _synced(first))),
        (timedelta(hours=26), app.write(ARGOCD, _syncing(second))),
        (timedelta(hours=26) - timedelta(seconds=3), web.write(ARGOCD, _image("shop/web:1.5"))),
        (timedelta(hours=26) - timedelta(seconds=6), app.write(ARGOCD, _synced(second))),
        (timedelta(minutes=55), web.write(CAROL, _replicas(6), subresource="scale")),
        (timedelta(minutes=52), app.write(ARGOCD, _syncing(second, automated=True))),
        (timedelta(minutes=52) - timedelta(seconds=2), web.write(ARGOCD, _replicas(2))),
        (timedelta(minutes=52) - timedelta(seconds=4), app.write(ARGOCD, _synced(second))),
        (timedelta(minutes=40), ghost.write(ERIN, _env("DEBUG", "true"))),
        (timedelta(minutes=15), apps.write(FLUX, _reconciled(z, applied=False), subresource="status")),
        (timedelta(minutes=15) - timedelta(seconds=3), ghost.write(FLUX, _image("ghost:5.2"))),
        (timedelta(minutes=15) - timedelta(seconds=6), apps.write(FLUX, _reconciled(z, applied=True), subresource="status")),
    ]  # fmt: skip
    return [(now - ago, request) for ago, request in steps]


async def seed(data_dir: Path, count: int, days: float, per_resource: int) -> int:
    """Write `count` backdated events straight into the store, as the collector would."""
    redactor = Redactor(load_or_create_key(data_dir / KEY_FILE))
    kinds = KindResolver()
    written = 0
    requests, spot = history(count, days, seed=7)
    # Both oldest first: merged, the ids stay in time order.
    requests = list(heapq.merge(requests, gitops_story(datetime.now(UTC)), key=lambda r: r[0]))
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
        print(
            "demo: hand edits of what Argo CD and Flux manage: h in the TUI, or "
            f"LOGISTIS_URL={collector.api_url} kubectl logistis log -A --hand-edits -o wide"
        )
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

"""A real collector fed with every captured request, and the real `kubectl-blame` and
`kubectl-logistis` to run on it."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from logistis.client.events import Event
from tests.support.collector import CollectorProcess, post_reviews, wait_for
from tests.support.fixtures import bodies, fixture_files, load
from tests.support.gitops import stories_recorded

KUBECTL_BLAME = Path(sys.executable).with_name("kubectl-blame")
KUBECTL_LOGISTIS = Path(sys.executable).with_name("kubectl-logistis")
FAKE_KUBECTL = Path(__file__).parents[1] / "tui" / "fake_kubectl.py"
WIDTH = 120
# Fixture events get a time each, a second apart from this, by file number.
EPOCH = datetime(2026, 11, 25, 1, 47, tzinfo=UTC)


@dataclass(frozen=True)
class Fed:
    """The fed collector: its API URL, and event ids by fixture file number."""

    url: str
    ids: dict[int, int]


@pytest.fixture(scope="session")
def fed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fed]:
    yield from _fed(tmp_path_factory.mktemp("blame-collector"), bodies())


# Left out of the history with holes: alice's `kubectl scale` (059) and her merge patch of the
# `owner` label (082), as if no collector had answered them.
LEFT_OUT = (59, 82)


@pytest.fixture(scope="session")
def fed_with_holes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fed]:
    kept = [path for path in fixture_files() if int(path.name[:3]) not in LEFT_OUT]
    yield from _fed(tmp_path_factory.mktemp("blame-holes"), (load(p.name)["body"] for p in kept))


# Raced in the history with a race: alice's `kubectl set image` (071), by a rival admitted
# against the same version with another tag and answered after it (the race's loser).
RACED = 71


@pytest.fixture(scope="session")
def fed_with_race(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fed]:
    reviews = []
    for path in fixture_files():
        reviews.append(load(path.name)["body"])
        if int(path.name[:3]) == RACED:
            reviews.append(_lost_race(reviews[-1]))
    yield from _fed(tmp_path_factory.mktemp("blame-race"), reviews)


def _lost_race(review: dict[str, Any]) -> dict[str, Any]:
    rival = copy.deepcopy(review)
    rival["request"]["uid"] = str(uuid.uuid4())
    rival["request"]["object"]["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:2"
    return rival


@pytest.fixture(scope="session")
def fed_gitops(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fed]:
    """Argo CD's and Flux's stories (tests/support/gitops.py), both hand edits decided."""
    with stories_recorded(tmp_path_factory.mktemp("blame-gitops") / "data") as collector:
        yield Fed(collector.api_url, {})


def _fed(data_dir: Path, reviews: Iterable[dict[str, Any]]) -> Iterator[Fed]:
    with CollectorProcess(data_dir) as collector:
        responses = post_reviews(collector, reviews)
        assert all(r.status_code == 200 for r in responses)
        # Who acted is counted once the deriver has kept it (`kubectl logistis top`).
        with collector.client() as client:
            assert wait_for(
                lambda: "logistis_events_underived 0.0" in client.get("/metrics").text, 20
            )
        yield Fed(collector.api_url, _ids_by_fixture(collector.api_url))


def _ids_by_fixture(url: str) -> dict[int, int]:
    """Recorded events carry the request's uid; map them back to the fixture numbers."""
    by_uid = {
        load(path.name)["body"]["request"]["uid"]: int(path.name[:3]) for path in fixture_files()
    }
    ids: dict[int, int] = {}
    cursor: str | None = None
    with httpx.Client(base_url=url, timeout=10) as client:
        while True:
            params = {"limit": "1000", **({"cursor": cursor} if cursor else {})}
            body = client.get("/api/v1/events", params=params).json()
            ids |= {by_uid[i["uid"]]: i["id"] for i in body["items"] if i["uid"] in by_uid}
            cursor = body["next"]
            if cursor is None:
                return ids


def blame_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """A fixed terminal width, no color, and no kubeconfig of the machine's own."""
    env = {
        k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "LOGISTIS_URL", "KUBECONFIG")
    }
    return {**env, "COLUMNS": str(WIDTH), "HOME": str(tmp_path), **extra}


def discovery_env(fed: Fed, tmp_path: Path, context: dict[str, str]) -> dict[str, str]:
    """For the real kubectl's plugin discovery: the plugins' folder first on PATH, a kubeconfig
    whose current context is `context`, and the fed collector's address in LOGISTIS_URL."""
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "current-context": "dev",
                "contexts": [{"name": "dev", "context": context}],
            }
        )
    )
    path = f"{KUBECTL_BLAME.parent}{os.pathsep}{os.environ['PATH']}"
    return blame_env(tmp_path, PATH=path, KUBECONFIG=str(kubeconfig), LOGISTIS_URL=fed.url)


def run_blame(
    *args: str, env: Mapping[str, str], url: str | None = None, command: Path = KUBECTL_BLAME
) -> subprocess.CompletedProcess[str]:
    argv = [str(command), *args, *(["--url", url] if url else [])]
    return subprocess.run(argv, capture_output=True, text=True, env=dict(env), timeout=60)


@pytest.fixture
def blame(fed: Fed, tmp_path: Path):
    """`blame("deploy", "-n", "team-a")` runs the real command against the fed collector."""
    env = blame_env(tmp_path)

    def run(*args: str, **extra_env: str) -> subprocess.CompletedProcess[str]:
        return run_blame(*args, env={**env, **extra_env}, url=fed.url)

    return run


@pytest.fixture
def logistis(fed: Fed, tmp_path: Path):
    """`logistis("blame", "deploy/nginx", "-n", "team-a")`: the real kubectl-logistis against the
    fed collector (the collector's address from LOGISTIS_URL, as a user would set it)."""
    env = blame_env(tmp_path, LOGISTIS_URL=fed.url)

    def run(*args: str, **extra_env: str) -> subprocess.CompletedProcess[str]:
        return run_blame(*args, env={**env, **extra_env}, command=KUBECTL_LOGISTIS)

    return run


@pytest.fixture
def blame_with_holes(fed_with_holes: Fed, tmp_path: Path):
    """`blame(...)` against the collector that missed the requests in LEFT_OUT."""
    return _blame_on(fed_with_holes, tmp_path)


@pytest.fixture
def blame_gitops(fed_gitops: Fed, tmp_path: Path):
    """`blame(...)` against the collector that recorded Argo CD's and Flux's stories."""
    return _blame_on(fed_gitops, tmp_path)


@pytest.fixture
def logistis_gitops(fed_gitops: Fed, tmp_path: Path):
    """`kubectl logistis ...` against the collector that recorded Argo CD's and Flux's stories."""
    return _blame_on(fed_gitops, tmp_path, KUBECTL_LOGISTIS)


@pytest.fixture
def blame_with_race(fed_with_race: Fed, tmp_path: Path):
    """`blame(...)` against the collector that recorded the race's loser after RACED."""
    return _blame_on(fed_with_race, tmp_path)


def _blame_on(
    fed: Fed, tmp_path: Path, command: Path = KUBECTL_BLAME
) -> Callable[..., subprocess.CompletedProcess[str]]:
    env = blame_env(tmp_path)

    def run(*args: str, **extra_env: str) -> subprocess.CompletedProcess[str]:
        return run_blame(*args, env={**env, **extra_env}, url=fed.url, command=command)

    return run


def fixture_event(number: int, *, kind: str) -> Event:
    """The event the collector would record for fixture `number`, in the client's model."""
    request: dict[str, Any] = load(number)["body"]["request"]
    return Event.from_json(
        {
            "id": number,
            "uid": request["uid"],
            "time": (EPOCH + timedelta(seconds=number)).isoformat(),
            "operation": request["operation"],
            "dryRun": request["dryRun"],
            "user": request["userInfo"],
            "resource": {
                **request["resource"],
                "kind": kind,
                "subresource": request.get("subResource", ""),
            },
            "namespace": request.get("namespace", ""),
            "name": request.get("name", ""),
            "fieldManager": (request.get("options") or {}).get("fieldManager", ""),
            "changes": [],
            "object": request.get("object"),
            "oldObject": request.get("oldObject"),
        }
    )


def nginx_history() -> list[Event]:
    """Every recorded write to the team-a/nginx Deployment, oldest first."""
    events = []
    for path in fixture_files():
        request = load(path.name)["body"]["request"]
        resource = request["resource"]
        if (resource["resource"], request.get("namespace"), request.get("name")) == (
            "deployments",
            "team-a",
            "nginx",
        ):
            events.append(fixture_event(int(path.name[:3]), kind="Deployment"))
    return events

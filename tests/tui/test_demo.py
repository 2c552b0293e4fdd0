"""`make demo`'s history is continuous but for its deliberate episode: a newcomer's first
diffs must not say the history cannot be trusted. Its GitOps story holds exactly the hand
edits, the put-back and the revisions a newcomer is to find."""

from __future__ import annotations

import asyncio
import importlib.util
import itertools
import os
import random
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
from textual.widgets import Static

from logistis.client.events import EventFilter
from logistis.tui.app import ConnectionSettings, LogistisApp
from logistis.tui.screens.diff import DiffScreen
from logistis.tui.widgets.event_table import EventTable
from tests.blame.conftest import KUBECTL_LOGISTIS
from tests.support.collector import CollectorProcess, post_reviews
from tests.tui.conftest import wait_until
from tests.tui.test_history_marks import row_texts

DEMO = Path(__file__).parents[2] / "tools" / "demo.py"
SEEDED = 1000
LIVE = 300  # more than one live episode


def demo() -> ModuleType:
    """tools/demo.py, which is a script, not a package's module."""
    spec = importlib.util.spec_from_file_location("demo", DEMO)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def every_event(url: str) -> list[dict[str, Any]]:
    events, cursor = [], None
    while True:
        params: dict[str, Any] = {"limit": 1000, **({"cursor": cursor} if cursor else {})}
        body = httpx.get(f"{url}/api/v1/events", params=params).json()
        events += body["items"]
        if not (cursor := body["next"]):
            return events


@dataclass(frozen=True)
class Demo:
    """The demo's collector, running, and every event it holds once its live feed went on."""

    collector: CollectorProcess
    events: list[dict[str, Any]]


@pytest.fixture(scope="module")
def demo_history(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    tool, data = demo(), tmp_path_factory.mktemp("demo") / "data"
    data.mkdir()
    asyncio.run(tool.seed(data, SEEDED, 14, SEEDED))
    live = itertools.islice(tool.live_requests(random.Random(1)), LIVE)
    review = {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview"}
    with CollectorProcess(data, "--max-events-per-resource", str(SEEDED)) as collector:
        assert all(
            r.status_code == 200
            for r in post_reviews(collector, [{**review, "request": r} for r in live])
        )
        yield Demo(collector, every_event(collector.api_url))


def test_the_demo_has_no_gap_outside_its_deliberate_episode(demo_history: Demo) -> None:
    events = demo_history.events
    assert any(e["namespace"].endswith("-live2") for e in events)  # the live feed went on
    gaps = [e for e in events if e.get("continuity") == "gap"]
    # The troubled episode's missed `kubectl scale` and the label patch lost in the crash.
    assert sorted(c["path"] for e in gaps for c in e["unrecordedChanges"]) == [
        "/metadata/labels/owner",
        "/spec/replicas",
    ]
    assert len({(e["namespace"], e["name"]) for e in gaps}) == 1


def test_the_demo_holds_two_hand_edits_one_put_back_and_the_revisions(demo_history: Demo) -> None:
    """What a newcomer is to find: carol's scale of Argo CD's shop/web put back by its self-heal
    at the Application's second revision, erin's change to Flux's blog/ghost left in place, and
    the revision of every GitOps write to what the tools manage."""
    tool, events = demo(), demo_history.events
    by_id = {e["id"]: e for e in events}
    hand = [e for e in events if e["handEdit"]]
    assert [(e["user"]["username"], e["namespace"], e["name"]) for e in hand] == [
        ("erin", "blog", "ghost"),
        ("carol", "shop", "web"),
    ]
    erin, carol = hand
    assert erin["revertedBy"] is None
    assert erin["managedBy"] == {"tool": "flux", "name": "apps", "namespace": "flux-system"}
    heal = by_id[carol["revertedBy"]]
    assert heal["reverts"] == [carol["id"]]
    assert heal["actor"] == {"kind": "gitops", "tool": "argocd"}
    assert heal["revision"]["revision"] == tool.ARGOCD_REVISIONS[1]
    managed_writes = [e for e in events if e["managedBy"] and e["actor"]["kind"] == "gitops"]
    assert len(managed_writes) == 5
    assert all(e["revision"] for e in managed_writes)
    assert {e["revision"]["revision"] for e in managed_writes} == {
        *tool.ARGOCD_REVISIONS,
        *tool.FLUX_REVISIONS,
    }
    assert [e for e in events if e["reverts"]] == [heal]


def test_kubectl_logistis_finds_the_demos_hand_edits(demo_history: Demo) -> None:
    env = {**os.environ, "LOGISTIS_URL": demo_history.collector.api_url, "COLUMNS": "200"}
    command = [str(KUBECTL_LOGISTIS), "log", "-A", "--hand-edits", "--no-headers"]
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    lines = [line.split() for line in result.stdout.splitlines()]
    assert [(line[0], line[1], line[-3]) for line in lines] == [
        ("blog", "deployment.apps/ghost", "erin"),
        ("shop", "deployment.apps/web", "carol"),
    ]
    assert lines[0][3] == "✋"
    assert lines[1][4] == "✋↩"


async def test_the_tui_finds_the_demos_hand_edits_with_h_and_v(demo_history: Demo) -> None:
    """As a newcomer would: h, then v on the one put back shows Argo CD's write and its revision."""
    app = LogistisApp(
        ConnectionSettings(url=demo_history.collector.api_url), EventFilter(people=True)
    )
    async with app.run_test(size=(160, 40)) as pilot:
        table = app.browse.query_one(EventTable)
        await wait_until(pilot, lambda: bool(table.events))
        await pilot.press("h")
        await wait_until(pilot, lambda: len(table.events) == 2)
        rows = [text for text in row_texts(table) if "✋" in text]  # not the blind spot's
        assert "✋ spec.template...env" in rows[0]
        assert "erin" in rows[0]
        assert "✋↩ spec.replicas" in rows[1]
        assert "carol" in rows[1]
        assert table.select_event(table.events[1].id)
        await pilot.press("v")
        # Its first tab drawn: the app does not stop while the screen is still mounting it.
        await wait_until(pilot, lambda: "diff" in getattr(app.screen, "shown", {}))
        assert isinstance(app.screen, DiffScreen)
        header = str(app.screen.query_one("#diff-provenance", Static).render())
    assert f"revision shop@{demo().ARGOCD_REVISIONS[1]}" in header

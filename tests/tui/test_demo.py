"""`make demo`'s history is continuous but for its deliberate episode: a newcomer's first
diffs must not say the history cannot be trusted."""

from __future__ import annotations

import asyncio
import importlib.util
import itertools
import random
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx

from tests.support.collector import CollectorProcess, post_reviews

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


def test_the_demo_has_no_gap_outside_its_deliberate_episode(tmp_path: Path) -> None:
    tool, data = demo(), tmp_path / "data"
    data.mkdir()
    asyncio.run(tool.seed(data, SEEDED, 14, SEEDED))
    live = itertools.islice(tool.live_requests(random.Random(1)), LIVE)
    review = {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview"}
    with CollectorProcess(data, "--max-events-per-resource", str(SEEDED)) as collector:
        assert all(
            r.status_code == 200
            for r in post_reviews(collector, [{**review, "request": r} for r in live])
        )
        events = every_event(collector.api_url)
    assert any(e["namespace"].endswith("-live2") for e in events)  # the live feed went on
    gaps = [e for e in events if e.get("continuity") == "gap"]
    # The troubled episode's missed `kubectl scale` and the label patch lost in the crash.
    assert sorted(c["path"] for e in gaps for c in e["unrecordedChanges"]) == [
        "/metadata/labels/owner",
        "/spec/replicas",
    ]
    assert len({(e["namespace"], e["name"]) for e in gaps}) == 1

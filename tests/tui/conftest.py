"""Fixtures for the TUI and client tests: a stand-in kubectl and a way to wait on the app."""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from textual.pilot import Pilot

FAKE_KUBECTL = Path(__file__).with_name("fake_kubectl.py")


@dataclass
class FakeKubectl:
    """`path` is an executable named kubectl; `mode` chooses how it behaves."""

    path: Path
    record: Path
    monkeypatch: pytest.MonkeyPatch

    def serve(self, url: str, mode: str = "serve") -> None:
        self.monkeypatch.setenv("FAKE_KUBECTL_MODE", mode)
        self.monkeypatch.setenv("FAKE_KUBECTL_UPSTREAM", urlsplit(url).netloc)

    def fail(self, mode: str) -> None:
        self.monkeypatch.setenv("FAKE_KUBECTL_MODE", mode)

    def runs(self) -> list[dict[str, object]]:
        if not self.record.exists():
            return []
        return [json.loads(line) for line in self.record.read_text().splitlines()]


@pytest.fixture
def fake_kubectl(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeKubectl:
    """A `kubectl` first on PATH that port-forwards to a local upstream, or fails like kubectl."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    path = bin_dir / "kubectl"
    path.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{FAKE_KUBECTL}" "$@"\n')
    path.chmod(0o755)
    record = tmp_path / "kubectl-runs.jsonl"
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_KUBECTL_RECORD", str(record))
    return FakeKubectl(path, record, monkeypatch)


async def wait_until(
    pilot: Pilot[object], condition: Callable[[], bool], within: float = 20.0
) -> None:
    """Let the app run until `condition()` holds; fail the test if it never does."""
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {within}s")
        await pilot.pause(0.02)

"""The runtime's parts open and close together: a start that fails half-way leaves no task
running and no thread behind."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from logistis.collector.deriver_process import DeriverProcess
from logistis.collector.runtime import open_runtime
from logistis.collector.settings import from_args


class DeriverWontStart(RuntimeError):
    pass


async def _refuse(deriver: DeriverProcess) -> None:
    raise DeriverWontStart


async def test_a_part_that_fails_to_start_stops_the_parts_started_before_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = from_args(["--data-dir", str(tmp_path / "data")], environ={})
    before = asyncio.all_tasks()
    monkeypatch.setattr(DeriverProcess, "start", _refuse)
    with pytest.raises(DeriverWontStart):
        async with open_runtime(settings):
            pytest.fail("the runtime opened without its deriver")
    assert asyncio.all_tasks() == before  # the writer's task (started first) is gone


async def test_the_runtime_closes_every_task_it_started(tmp_path: Path) -> None:
    settings = from_args(["--data-dir", str(tmp_path / "data")], environ={})
    before = asyncio.all_tasks()
    async with open_runtime(settings) as runtime:
        names = {task.get_name() for task in asyncio.all_tasks() - before}
        # On SQLite the deriver runs in a process of its own: these follow it.
        following = {"deriver-process", "deriver-commits"}
        assert {"writer", *following, "retention", "heartbeat", "commits"} <= names
    assert runtime.stopping.is_set()
    assert asyncio.all_tasks() == before

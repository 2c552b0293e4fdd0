"""Measure what the event table's window costs: a page dropped at the top of a full window.

Not part of the suite (CPU times, not assertions):

    .venv/bin/python tests/tui/measure_window.py

Prints the CPU time (this process only: other work on the machine does not count) of
`EventTable.drop_top` dropping 100 of 1,000 rows and of the repaint after it, beside appending
a page of 100 and building 900 rows again (what paging up does).
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from textual.app import App, ComposeResult
from textual.pilot import Pilot

from logistis.client.events import Event
from logistis.tui.widgets.event_table import EventTable

NOW = datetime(2026, 1, 1, tzinfo=UTC)
ROUNDS = 10
HELD = 1000
PAGE = 100


def event(n: int) -> Event:
    return Event.from_json(
        {
            "id": n,
            "uid": f"u{n}",
            "time": (NOW - timedelta(seconds=n)).isoformat(),
            "operation": "UPDATE",
            "dryRun": False,
            "user": {"username": f"user-{n % 7}"},
            "resource": {
                "group": "apps",
                "version": "v1",
                "resource": "deployments",
                "kind": "Deployment",
                "subresource": "",
            },
            "namespace": "team-a",
            "name": f"nginx-{n % 13}",
            "fieldManager": "kubectl",
            "changes": [{"op": "replace", "path": "/spec/replicas"}],
        }
    )


class Host(App[None]):
    def compose(self) -> ComposeResult:
        yield EventTable(clock=lambda: NOW, id="events")


async def repainted(pilot: Pilot[None]) -> float:
    started = time.process_time()
    await pilot.pause()
    await pilot.pause()
    return time.process_time() - started


async def cost(pilot: Pilot[None], change: Callable[[], object]) -> tuple[float, float]:
    """The CPU time of `change` and of the repaint after it."""
    started = time.process_time()
    change()
    return time.process_time() - started, await repainted(pilot)


async def main() -> None:
    events = [event(n) for n in range(2 * HELD, 0, -1)]
    drops: list[tuple[float, float]] = []
    appends: list[tuple[float, float]] = []
    rebuilds: list[tuple[float, float]] = []
    app = Host()
    async with app.run_test(size=(160, 45)) as pilot:
        table = app.query_one(EventTable)
        for round_ in range(ROUNDS + 1):
            table.show(events[: HELD - PAGE])
            await repainted(pilot)
            appended = await cost(pilot, lambda: table.append(events[HELD - PAGE : HELD]))
            table.move_cursor(row=HELD - 50, animate=False)
            await repainted(pilot)
            before, height = table.selected, table.cursor_row - round(table.scroll_y)
            dropped = await cost(pilot, lambda: table.drop_top(PAGE))
            assert table.row_count == HELD - PAGE
            assert table.selected == before
            assert table.cursor_row - round(table.scroll_y) == height  # the view did not move
            rebuilt = await cost(pilot, lambda: table.replace(table.events, shift=0))
            if round_:  # the first round warms caches
                drops.append(dropped)
                appends.append(appended)
                rebuilds.append(rebuilt)
    print(f"CPU ms, median of {ROUNDS} rounds (the call + the repaint after it):")
    for what, times in (
        (f"drop_top({PAGE}) of {HELD} rows", drops),
        (f"append a page of {PAGE}", appends),
        (f"rebuild {HELD - PAGE} rows (paging up)", rebuilds),
    ):
        call = statistics.median(t[0] for t in times) * 1000
        repaint = statistics.median(t[1] for t in times) * 1000
        print(f"  {what}: {call:.1f} + {repaint:.1f}")


if __name__ == "__main__":
    asyncio.run(main())

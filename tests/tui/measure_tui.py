"""Measure the TUI against a running collector: launch to first rows, paging, toggling.

Not part of the suite (it needs a big store). With 100,000 events:

    .venv/bin/python tools/demo.py --events 100000 --no-tui --data-dir /tmp/logistis-big &
    .venv/bin/python tests/tui/measure_tui.py --url http://127.0.0.1:PORT
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import statistics
import time
from collections.abc import Callable

from textual.pilot import Pilot

from logistis.client.events import EventFilter
from logistis.tui.app import ConnectionSettings, LogistisApp
from logistis.tui.widgets.event_table import EventTable
from logistis.tui.widgets.status_bar import StatusBar


async def until(pilot: Pilot[None], condition: Callable[[], bool], within: float = 60.0) -> float:
    started = time.perf_counter()
    while not condition():
        if time.perf_counter() - started > within:
            raise TimeoutError("condition not met")
        await pilot.pause(0.005)
    return time.perf_counter() - started


async def first_rows(url: str, people: bool) -> float:
    started = time.perf_counter()
    app = LogistisApp(ConnectionSettings(url=url), EventFilter(people=people or None))
    async with app.run_test(size=(160, 45)) as pilot:
        table = app.browse.query_one(EventTable)
        await until(pilot, lambda: table.row_count > 0)
        return time.perf_counter() - started


async def paging_and_toggling(url: str, pages: int) -> None:
    app = LogistisApp(ConnectionSettings(url=url), EventFilter())
    async with app.run_test(size=(160, 45)) as pilot:
        table = app.browse.query_one(EventTable)
        status = app.browse.query_one(StatusBar)
        await until(pilot, lambda: table.row_count > 0)
        await until(pilot, lambda: "of" in status.shown)
        print(f"  status: {status.shown}")
        page_times = []
        for _ in range(pages):
            rows = table.row_count
            started = time.perf_counter()
            table.move_cursor(row=rows - 1)
            await until(pilot, lambda rows=rows: table.row_count > rows)
            page_times.append(time.perf_counter() - started)
        print(
            f"  {pages} pages of 100 by moving to the last row: median "
            f"{statistics.median(page_times) * 1000:.0f} ms, max {max(page_times) * 1000:.0f} ms;"
            f" rows loaded {table.row_count:,}"
        )
        started = time.perf_counter()
        for _ in range(200):
            await pilot.press("pageup")
        print(
            f"  200 x page-up over {table.row_count:,} rows: {time.perf_counter() - started:.2f}s"
        )
        started = time.perf_counter()
        await pilot.press("p")
        await until(pilot, lambda: status.hidden is not None and table.row_count <= 100)
        print(
            f"  people-only toggle to rows and hidden count: {time.perf_counter() - started:.2f}s"
            f" ({status.hidden:,} hidden)"
        )
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"  peak RSS of the measuring process (app included): {rss:.0f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--pages", type=int, default=30)
    args = parser.parse_args()
    for people in (True, False):
        times = [asyncio.run(first_rows(args.url, people)) for _ in range(args.runs)]
        view = "people only" if people else "everything"
        print(
            f"launch to first rows ({view}, {args.runs} runs): median "
            f"{statistics.median(times) * 1000:.0f} ms, max {max(times) * 1000:.0f} ms"
        )
    print("paging and toggling:")
    asyncio.run(paging_and_toggling(args.url, args.pages))


if __name__ == "__main__":
    main()

"""Browse a collector's history in the TUI (headless) until N events are paged through; print
what that cost as JSON: events browsed, rows held, seconds, pages, and the resident memory.

Its own process, so the memory is the TUI's (with Textual's test pilot), not the caller's:

    .venv/bin/python tools/tui_browse.py --url http://127.0.0.1:8080 --events 100000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import statistics
import time
from pathlib import Path

from textual.pilot import Pilot

from logistis.client.events import EventFilter
from logistis.tui.app import ConnectionSettings, LogistisApp
from logistis.tui.screens.browse import BrowseScreen
from logistis.tui.widgets.event_table import EventTable

PAGE_TIMEOUT = 60.0


def resident_mib() -> tuple[float, float]:
    """(current, peak) resident memory of this process, in MiB."""
    status = Path("/proc/self/status").read_text()
    kib = {k: int(v.split()[0]) for k, v in re.findall(r"(VmRSS|VmHWM):\s+(.*)", status)}
    return kib["VmRSS"] / 1024, kib["VmHWM"] / 1024


def browsed(screen: BrowseScreen) -> int:
    """Events paged through so far: the rows held and those dropped above them."""
    return screen.pane.window.rows_above + screen.query_one(EventTable).row_count


async def browsed_grows(pilot: Pilot[None], screen: BrowseScreen, beyond: int) -> None:
    deadline = time.perf_counter() + PAGE_TIMEOUT
    while browsed(screen) <= beyond:
        if time.perf_counter() > deadline:
            raise TimeoutError(f"no events beyond {beyond:,} within {PAGE_TIMEOUT:g} s")
        await pilot.pause(0.005)


async def browse(url: str, events: int) -> dict[str, float]:
    """Move to the last row held until `events` events are paged through, as an operator
    paging down through the whole history would (everyone's events, people and controllers)."""
    started = time.perf_counter()
    app = LogistisApp(ConnectionSettings(url=url), EventFilter())
    page_seconds: list[float] = []
    async with app.run_test(size=(160, 45)) as pilot:
        screen, table = app.browse, app.browse.query_one(EventTable)
        await browsed_grows(pilot, screen, 0)
        while (seen := browsed(screen)) < events:
            page_started = time.perf_counter()
            table.move_cursor(row=table.row_count - 1)
            await browsed_grows(pilot, screen, seen)
            page_seconds.append(time.perf_counter() - page_started)
        current, peak = resident_mib()
        return {
            "events": browsed(screen),
            "rows": table.row_count,
            "seconds": time.perf_counter() - started,
            "pages": len(page_seconds),
            "page_median_ms": statistics.median(page_seconds) * 1000,
            "rss_mib": current,
            "peak_rss_mib": peak,
        }


def main() -> None:
    parser = argparse.ArgumentParser(prog="tui_browse", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--url", required=True, help="the collector's API, e.g. http://127.0.0.1:8080"
    )
    parser.add_argument("--events", type=int, default=100_000, help="events to page through")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(browse(args.url, args.events))))


if __name__ == "__main__":
    main()

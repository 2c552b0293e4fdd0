"""Run by the Python of an installed logistis: the TUI on a collector, printing its first rows.

`python tui_rows.py URL` prints `namespace/name` for each event row, once rows appear.
Starting the app loads its stylesheet, package data of the installed wheel.
"""

from __future__ import annotations

import asyncio
import sys
import time

from logistis.client.events import EventFilter
from logistis.tui.app import ConnectionSettings, LogistisApp
from logistis.tui.widgets.event_table import EventTable


async def first_rows(url: str) -> list[str]:
    app = LogistisApp(ConnectionSettings(url=url), EventFilter(people=None))
    async with app.run_test(size=(160, 45)) as pilot:
        table = app.browse.query_one(EventTable)
        deadline = time.monotonic() + 30
        while not table.events and time.monotonic() < deadline:
            await pilot.pause(0.01)
        return [f"{e.namespace}/{e.name}" for e in table.events]


if __name__ == "__main__":
    print("\n".join(asyncio.run(first_rows(sys.argv[1]))))

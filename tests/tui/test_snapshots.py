"""What the main screens look like, against the fed collector with the clock held still.

Every time on screen is relative to a clock set five minutes after the newest event, so the
pictures do not change from run to run.
"""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

import httpx
import pytest
from textual.pilot import Pilot

from logistis.backoff import Backoff
from logistis.client.events import EventFilter, parse_time
from logistis.client.live import LinkState
from logistis.tui.app import ConnectionSettings, LogistisApp
from logistis.tui.widgets.event_table import EventTable
from logistis.tui.widgets.status_bar import StatusBar
from tests.support.collector import CollectorProcess
from tests.tui.conftest import wait_until

SIZE = (150, 34)
_EXPORT_ID = re.compile(r"terminal-\d+")
Compare = Callable[..., bool]


def frozen_app(collector: CollectorProcess, initial: EventFilter | None = None) -> LogistisApp:
    newest = httpx.get(f"{collector.api_url}/api/v1/events", params={"limit": 1}).json()
    now = parse_time(newest["items"][0]["time"]) + timedelta(minutes=5)

    def clock() -> datetime:
        return now

    return LogistisApp(ConnectionSettings(url=collector.api_url), initial, clock=clock)


def loaded(app: LogistisApp) -> Callable[[], bool]:
    """Whether the first page, the count of hidden machine events and the live link are in."""

    def ready() -> bool:
        status = app.browse.query_one(StatusBar)
        counted = status.hidden is not None or not app.browse.filter.people
        return (
            bool(app.browse.query_one(EventTable).events)
            and counted
            and status.link.state == LinkState.LIVE
        )

    return ready


async def held_still(pilot: Pilot[None], within: float = 10.0) -> None:
    """Until the picture stayed the same for three looks in a row.

    Widgets lay out over several refreshes after their content arrives (the table sizes its
    columns, history-mark rows may still come, the Markdown of the help screen builds its
    blocks, the screen behind a modal repaints): a picture taken earlier differs by a column
    header or a row now and then, more often on a loaded machine.
    """
    deadline = time.monotonic() + within
    previous, still = _picture(pilot), 0
    while still < 3:
        if time.monotonic() > deadline:
            raise AssertionError(f"the picture did not hold still within {within}s")
        await pilot.pause(0.1)
        current = _picture(pilot)
        still = still + 1 if current == previous else 0
        previous = current


def _picture(pilot: Pilot[None]) -> str:
    # The SVG's class names carry a random id per export.
    return _EXPORT_ID.sub("", pilot.app.export_screenshot())


@pytest.fixture
def snap(snap_compare: Compare) -> Callable[..., bool]:
    def compare(
        app: LogistisApp,
        *press: str,
        extra: Callable[[Pilot[None]], Awaitable[None]] | None = None,
        size: tuple[int, int] = SIZE,
    ) -> bool:
        async def run_before(pilot: Pilot[None]) -> None:
            await wait_until(pilot, loaded(app))
            if extra is not None:
                await extra(pilot)
            await held_still(pilot)

        return snap_compare(app, press=press, terminal_size=size, run_before=run_before)

    return compare


@pytest.mark.parametrize("size", [(80, 24), (120, 40), (200, 50)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_main_screen_fits_the_terminal(
    snap: Callable[..., bool], fed_collector: CollectorProcess, size: tuple[int, int]
) -> None:
    """When, operation, who, kind/object and what changed on every row, at any width."""
    assert snap(frozen_app(fed_collector), size=size)


def test_everything_at_80_columns(
    snap: Callable[..., bool], fed_collector: CollectorProcess
) -> None:
    """Machine identities are long: shortened, then cut in the middle, never the changes."""
    assert snap(frozen_app(fed_collector, EventFilter(people=None)), size=(80, 24))


def test_main_screen_people_first(
    snap: Callable[..., bool], fed_collector: CollectorProcess
) -> None:
    assert snap(frozen_app(fed_collector))


def test_main_screen_everything_in_a_namespace(
    snap: Callable[..., bool], fed_collector: CollectorProcess
) -> None:
    app = frozen_app(fed_collector, EventFilter(namespace="team-a", people=True))
    assert snap(app, "p")


def test_diff_screen(snap: Callable[..., bool], fed_collector: CollectorProcess) -> None:
    app = frozen_app(fed_collector, EventFilter(user="alice", kind="Deployment", name="nginx"))

    async def open_set_image(pilot: Pilot[None]) -> None:
        table = app.browse.query_one(EventTable)
        table.move_cursor(
            row=next(i for i, e in enumerate(table.events) if e.field_manager == "kubectl-set")
        )
        await pilot.press("enter")
        await wait_until(pilot, lambda: "diff" in getattr(app.screen, "shown", {}))

    assert snap(app, extra=open_set_image)


def test_help_screen(snap: Callable[..., bool], fed_collector: CollectorProcess) -> None:
    app = frozen_app(fed_collector)

    async def open_help(pilot: Pilot[None]) -> None:
        await pilot.press("question_mark")
        # The Markdown widget builds its blocks asynchronously.
        await wait_until(pilot, lambda: bool(app.screen.query("MarkdownTableContent")))

    assert snap(app, extra=open_help)


def test_connection_failed(snap_compare: Compare) -> None:
    # Port 9 (discard) has no listener here: the collector is unreachable.
    # Every try one second after the last: the next try's delay on screen is always the same.
    app = LogistisApp(
        ConnectionSettings(url="http://127.0.0.1:9"), backoff=lambda: Backoff(1, 1, 1)
    )

    async def failed(pilot: Pilot[None]) -> None:
        status = app.browse.query_one(StatusBar)
        await wait_until(pilot, lambda: status.link.state == LinkState.FAILED)

    assert snap_compare(app, terminal_size=SIZE, run_before=failed)

"""Paging through a history longer than the window the table holds, against a real collector."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
from textual.pilot import Pilot

from logistis.client.events import EventFilter
from logistis.client.live import LinkState
from logistis.client.window import PageSpan, PageWindow, Where
from logistis.tui.app import ConnectionSettings, LogistisApp
from logistis.tui.loads import Request
from logistis.tui.messages import PageLoaded
from logistis.tui.widgets.event_table import EventTable
from logistis.tui.widgets.status_bar import StatusBar
from tests.support.collector import CollectorProcess, post_reviews
from tests.support.fixtures import bodies, load
from tests.tui.conftest import wait_until

SIZE = (160, 40)
# Small pages and a small window, so the fed store (228 events) spans many windows' worth.
PAGE_SIZE = 20
WINDOW_PAGES = 3
HELD = PAGE_SIZE * WINDOW_PAGES


def paged_app(url: str) -> LogistisApp:
    app = LogistisApp(ConnectionSettings(url=url), EventFilter())
    app.browse.page_size = PAGE_SIZE
    app.browse.window_pages = WINDOW_PAGES
    return app


def api_ids(url: str) -> list[int]:
    """Every event's id, newest first, as the API's own pages give them."""
    ids: list[int] = []
    cursor: str | None = None
    with httpx.Client(base_url=url) as client:
        while True:
            params = {"limit": str(PAGE_SIZE), **({"cursor": cursor} if cursor else {})}
            body = client.get("/api/v1/events", params=params).raise_for_status().json()
            ids += [item["id"] for item in body["items"]]
            if not (cursor := body.get("next")):
                return ids


def held(app: LogistisApp) -> list[int]:
    return [e.id for e in app.browse.query_one(EventTable).events]


async def two_pages_live(app: LogistisApp, pilot: Pilot[None]) -> None:
    """The first page is no longer than PREFETCH_ROWS: showing it asks for the next at once,
    so the settled state holds two pages (checking for one raced the second's arrival). Live
    as well: paging starts from a screen that has finished connecting."""
    table = app.browse.query_one(EventTable)
    status = app.browse.query_one(StatusBar)
    await wait_until(
        pilot,
        lambda: len(table.events) == 2 * PAGE_SIZE and status.link.state == LinkState.LIVE,
    )


async def page_down(app: LogistisApp, pilot: Pilot[None], rows_above: int) -> None:
    """Move to the last row until `rows_above` events lie above the window, checking the
    window's bound after every page."""
    table = app.browse.query_one(EventTable)
    while app.browse.pane.window.rows_above < rows_above:
        before, last = (app.browse.pane.window.rows_above, table.row_count), table.events[-1]
        table.move_cursor(row=table.row_count - 1)
        await wait_until(
            pilot,
            lambda before=before: (app.browse.pane.window.rows_above, table.row_count) != before,
        )
        assert table.row_count <= HELD
        assert table.selected == last  # rows dropped above did not move the cursor off it


async def test_paging_down_drops_the_top_and_back_up_restores_it(
    fed_collector: CollectorProcess,
) -> None:
    everything = api_ids(fed_collector.api_url)
    app = paged_app(fed_collector.api_url)
    async with app.run_test(size=SIZE) as pilot:
        table = app.browse.query_one(EventTable)
        await two_pages_live(app, pilot)
        assert held(app) == everything[: 2 * PAGE_SIZE]

        await page_down(app, pilot, rows_above=3 * PAGE_SIZE)
        above = app.browse.pane.window.rows_above
        assert held(app) == everything[above : above + table.row_count]
        assert table.row_count == HELD
        shown = f"{above + 1}-{above + HELD} of {len(everything)} events"
        assert shown in str(app.browse.query_one(StatusBar).render())

        # Back to the top: each page above comes back, the bottom one goes, in order.
        while not app.browse.pane.window.at_newest:
            first = held(app)[0]
            table.move_cursor(row=0)
            await wait_until(pilot, lambda first=first: held(app)[0] != first)
            above = app.browse.pane.window.rows_above
            assert held(app) == everything[above : above + table.row_count]
            assert table.row_count <= HELD
            # The event that was first is still under the cursor.
            assert table.selected is not None
            assert table.selected.id == first
        assert held(app) == everything[:HELD]


async def test_a_live_event_while_scrolled_down_does_not_move_the_view(tmp_path: Path) -> None:
    with CollectorProcess(tmp_path / "data") as collector:
        post_reviews(collector, bodies()[:150])
        app = paged_app(collector.api_url)
        async with app.run_test(size=SIZE) as pilot:
            table = app.browse.query_one(EventTable)
            status = app.browse.query_one(StatusBar)
            await wait_until(
                pilot, lambda: bool(table.events) and status.link.state == LinkState.LIVE
            )
            await page_down(app, pilot, rows_above=2 * PAGE_SIZE)
            row = PAGE_SIZE + 5
            table.move_cursor(row=row)
            # Scrolled to it (after a refresh): the view is settled before the event comes.
            await wait_until(
                pilot, lambda: table.scroll_y <= row < table.scroll_y + table.size.height - 1
            )
            await pilot.pause()
            rows, selected, scroll = held(app), table.selected, table.scroll_y

            await asyncio.to_thread(post_reviews, collector, [load(143)["body"]])
            await wait_until(pilot, lambda: status.new == 1)
            await pilot.pause()
            assert held(app) == rows
            assert (table.selected, table.scroll_y) == (selected, scroll)
            assert "1 new" in str(status.render())

            await pilot.press("g")  # the newest, the live event first
            await wait_until(pilot, lambda: app.browse.pane.window.at_newest and status.new == 0)
            await wait_until(pilot, lambda: table.events[0].name == "app-config")
            assert table.cursor_row == 0


def test_a_page_fits_the_window_only_where_it_was_asked_for() -> None:
    window = PageWindow(2)
    assert window.fits(Where.FIRST, None)
    assert not window.fits(Where.OLDER, "a")  # nothing held yet
    window.reset(PageSpan(None, PAGE_SIZE, "a"))
    assert window.fits(Where.OLDER, "a")
    assert not window.fits(Where.NEWER, None)  # at the newest, nothing lies above
    window.add_older(PageSpan("a", PAGE_SIZE, "b"))
    assert window.add_older(PageSpan("b", PAGE_SIZE, "c")) == PAGE_SIZE
    assert window.fits(Where.NEWER, None)
    assert not window.fits(Where.OLDER, "b")  # the window moved on since "b" was asked for
    assert window.fits(Where.OLDER, "c")


async def test_a_late_first_page_of_an_earlier_load_is_dropped(
    fed_collector: CollectorProcess,
) -> None:
    """A reload asks again under a new request: the first page of the one before it, even
    under the same filter, no longer replaces the rows."""
    app = paged_app(fed_collector.api_url)
    async with app.run_test(size=SIZE) as pilot:
        await two_pages_live(app, pilot)
        rows = held(app)
        earlier = Request(app.browse.filter, PAGE_SIZE)
        app.browse.post_message(PageLoaded(earlier, Where.FIRST, None, (), None))
        await pilot.pause()
        assert held(app) == rows

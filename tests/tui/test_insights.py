"""The insights screen, driven by the pilot against a real collector: `i` opens it from the
list, it charts the activity of the list's period and namespace, a chosen bucket or bar
filters the list to it, and live events redraw it. Pictures at 80x24 and 120x40.

The history is recorded at fixed times (a store filled before the collector starts), so the
charts' time axis is the same in every run.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from textual.pilot import Pilot

from logistis.client.events import EventFilter, parse_time
from logistis.collector.store import StoreURL, open_store
from logistis.tui.app import ConnectionSettings, LogistisApp
from logistis.tui.screens.browse import BrowseScreen
from logistis.tui.screens.insights import InsightsScreen
from logistis.tui.widgets.charts import ActivityChart, RankingChart
from logistis.tui.widgets.event_table import EventTable
from tests.collector.test_store import fixture_events
from tests.support.collector import CollectorProcess, derived, post_reviews, wait_for
from tests.support.fixtures import bodies
from tests.tui.conftest import wait_until
from tests.tui.test_snapshots import Compare, held_still

START = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)
# The window the list shows: the two days the history spans.
PERIOD = EventFilter(since="2026-11-23T00:00:00Z", until="2026-11-25T00:00:00Z")


@pytest.fixture(scope="module")
def fixed_collector(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CollectorProcess]:
    """The captured fixtures recorded every 13 minutes from START, derived."""
    data_dir = tmp_path_factory.mktemp("insights-tui") / "data"
    events = [
        replace(e, time=START + timedelta(minutes=13 * n)) for n, e in enumerate(fixture_events())
    ]

    async def fill() -> None:
        async with open_store(StoreURL.sqlite(data_dir / "logistis.db")) as store:
            await store.record(events)

    asyncio.run(fill())
    with CollectorProcess(data_dir) as collector:
        with collector.client() as client:
            assert wait_for(lambda: derived(client), 20)
        yield collector


def fixed_app(collector: CollectorProcess, initial: EventFilter = PERIOD) -> LogistisApp:
    newest = parse_time("2026-11-25T00:00:00.000Z")
    return LogistisApp(ConnectionSettings(url=collector.api_url), initial, clock=lambda: newest)


def insights_of(app: LogistisApp) -> InsightsScreen:
    screen = app.screen
    assert isinstance(screen, InsightsScreen)
    return screen


async def opened(pilot: Pilot[None], app: LogistisApp) -> InsightsScreen:
    """`i` from the loaded list, then until the charts are drawn."""
    await wait_until(pilot, lambda: bool(app.browse.query_one(EventTable).events))
    await pilot.press("i")
    await wait_until(pilot, lambda: isinstance(app.screen, InsightsScreen))
    screen = insights_of(app)
    await wait_until(pilot, lambda: bool(screen.query_one(ActivityChart).choices))
    return screen


def api_insights(collector: CollectorProcess, **params: str) -> dict:
    return httpx.get(f"{collector.api_url}/api/v1/insights", params=params).json()


async def test_a_chosen_bucket_filters_the_list_to_its_period(fixed_collector) -> None:
    app = fixed_app(fixed_collector)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await opened(pilot, app)
        chart = screen.query_one(ActivityChart)
        expected = api_insights(fixed_collector, since=PERIOD.since, until=PERIOD.until)
        assert [c.count for c in chart.choices] == [b["count"] for b in expected["buckets"]]
        # The newest bucket is selected first: of the busiest (the fixtures fill most buckets
        # alike), the newest is the fewest presses away.
        busiest = max(reversed(range(len(chart.choices))), key=lambda i: chart.choices[i].count)
        await pilot.press(*["left"] * (len(chart.choices) - 1 - busiest), "enter")
        await wait_until(pilot, lambda: isinstance(app.screen, BrowseScreen))
        bucket = expected["buckets"][busiest]
        assert app.browse.filter.since == bucket["start"]
        table = app.browse.query_one(EventTable)
        await wait_until(
            pilot,
            lambda: bool(table.events) and table.events[0].time >= parse_time(bucket["start"]),
        )
        start = parse_time(bucket["start"])
        end = start + timedelta(seconds=expected["bucketSeconds"])
        assert all(start <= e.time < end for e in table.events)
        assert len(table.events) == bucket["count"]


async def test_a_chosen_person_or_object_filters_the_list(fixed_collector) -> None:
    app = fixed_app(fixed_collector, PERIOD.with_(namespace="team-a"))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await opened(pilot, app)
        people = screen.query_one("#people", RankingChart)
        assert people.choices[0].label == "alice"
        screen.query_one("TabbedContent").active = "people-tab"
        await pilot.pause()
        assert screen.focused is people
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, BrowseScreen))
        assert (app.browse.filter.user, app.browse.filter.namespace) == ("alice", "team-a")
        screen = await opened(pilot, app)
        await pilot.press("escape")  # back, the filter as it was
        await wait_until(pilot, lambda: isinstance(app.screen, BrowseScreen))
        assert app.browse.filter.name is None
        screen = await opened(pilot, app)
        screen.query_one("TabbedContent").active = "objects-tab"
        await pilot.pause()
        objects = screen.query_one("#objects", RankingChart)
        await pilot.press("down", "enter")
        await wait_until(pilot, lambda: isinstance(app.screen, BrowseScreen))
        second = objects.choices[1].narrowing
        assert app.browse.filter.name == second["name"]
        assert app.browse.filter.kind == second["kind"]


async def test_live_events_redraw_the_charts(collector: CollectorProcess) -> None:
    post_reviews(collector, bodies()[:40])
    app = LogistisApp(ConnectionSettings(url=collector.api_url), EventFilter(people=None))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await opened(pilot, app)
        chart = screen.query_one(ActivityChart)
        before = sum(c.count for c in chart.choices)
        post_reviews(collector, bodies()[40:80])
        await wait_until(pilot, lambda: sum(c.count for c in chart.choices) > before, 15)
        total = api_insights(collector)["total"]
        await wait_until(pilot, lambda: sum(c.count for c in chart.choices) == total, 15)


@pytest.fixture
def snap(snap_compare: Compare) -> Callable[..., bool]:
    def compare(app: LogistisApp, tab: str, size: tuple[int, int]) -> bool:
        async def run_before(pilot: Pilot[None]) -> None:
            screen = await opened(pilot, app)
            screen.query_one("TabbedContent").active = tab
            await held_still(pilot)

        return snap_compare(app, terminal_size=size, run_before=run_before)

    return compare


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("tab", ["activity-tab", "hours-tab", "people-tab", "objects-tab"])
def test_the_insights_screen_fits_the_terminal(
    snap: Callable[..., bool], fixed_collector: CollectorProcess, tab: str, size: tuple[int, int]
) -> None:
    assert snap(fixed_app(fixed_collector), tab, size)

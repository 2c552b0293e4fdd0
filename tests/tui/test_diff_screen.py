"""The diff screen against a real collector: what its line views draw, row by row."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from rich.style import Style
from textual.color import Color
from textual.pilot import Pilot
from textual.widgets import Static

from logistis.client.diff import ELISION, DiffKind
from logistis.client.events import EventFilter
from logistis.tui.app import ConnectionSettings, LogistisApp
from logistis.tui.screens.diff import NO_CHANGE, DiffScreen
from logistis.tui.widgets.event_table import EventTable
from logistis.tui.widgets.line_view import LineView
from tests.support.collector import CollectorProcess, post_reviews
from tests.support.fixtures import bodies
from tests.tui.conftest import wait_until

SIZE = (160, 40)
KEYS = 600  # a diff of ~100 lines: longer than the screen is high
LARGE = 2000  # the benchmark's object: 2,000 keys, every 100th changed


def configmap_update(
    name: str, old_data: dict[str, str], new_data: dict[str, str]
) -> dict[str, Any]:
    """bob's update of a ConfigMap of the fixtures: its data, and nothing else, replaced."""
    review = copy.deepcopy(
        next(
            b
            for b in bodies()
            if b["request"]["kind"]["kind"] == "ConfigMap"
            and b["request"]["operation"] == "UPDATE"
            and not b["request"]["dryRun"]
        )
    )
    request = review["request"]
    request["uid"], request["name"] = f"{name}-update", name
    request["oldObject"] = copy.deepcopy(request["object"])
    for obj, data in ((request["oldObject"], old_data), (request["object"], new_data)):
        obj["data"] = data
        obj["metadata"]["name"] = name
    return review


@pytest.fixture(scope="module")
def collector(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CollectorProcess]:
    """A long ConfigMap changed in every 60th key, one of 2,000 keys changed in every 100th,
    and one updated in its noise alone."""
    data = {f"key-{n:04d}": f"value {n}" for n in range(KEYS)}
    changed = data | {f"key-{n:04d}": f"changed {n}" for n in range(0, KEYS, 60)}
    large = {f"key-{n:04d}": f"value {n}" for n in range(LARGE)}
    large_changed = large | {f"key-{n:04d}": f"changed {n}" for n in range(0, LARGE, 100)}
    noise_only = configmap_update("quiet", {"a": "1"}, {"a": "1"})
    noise_only["request"]["object"]["metadata"]["resourceVersion"] = "339"
    reviews = [
        configmap_update("long", data, changed),
        configmap_update("large", large, large_changed),
        noise_only,
    ]
    with CollectorProcess(tmp_path_factory.mktemp("diff") / "data") as process:
        responses = post_reviews(process, reviews)
        assert all(r.status_code == 200 for r in responses)
        yield process


@asynccontextmanager
async def diff_of(
    collector: CollectorProcess, name: str
) -> AsyncIterator[tuple[Pilot[None], DiffScreen]]:
    """The app against `collector`, on the diff screen of the event of object `name`."""
    app = LogistisApp(ConnectionSettings(url=collector.api_url))
    async with app.run_test(size=SIZE) as pilot:
        yield pilot, await open_diff(app, pilot, name)


async def open_diff(app: LogistisApp, pilot: Pilot[None], name: str) -> DiffScreen:
    table = app.browse.query_one(EventTable)
    await wait_until(pilot, lambda: bool(table.events))
    table.move_cursor(row=next(i for i, e in enumerate(table.events) if e.name == name))
    await pilot.press("enter")
    screen = app.screen
    assert isinstance(screen, DiffScreen)
    await wait_until(pilot, lambda: "diff" in screen.shown)
    return screen


def drawn(view: LineView) -> list[tuple[str, Style | None]]:
    """Each row the view draws now, as the compositor asks for it: its text and its style."""
    rows = [view.render_line(y) for y in range(view.scrollable_content_region.height)]
    return [(row.text.rstrip(), next(iter(row)).style) for row in rows]


def texts(view: LineView) -> list[str]:
    return [text for text, _ in drawn(view)]


def color(style: Style | None) -> Color:
    assert style is not None
    assert style.color is not None
    return Color.from_rich_color(style.color)


async def test_the_end_of_a_long_diff_scrolls_into_view(collector: CollectorProcess) -> None:
    async with diff_of(collector, "long") as (pilot, screen):
        view = screen.query_one("#diff-view", LineView)
        assert texts(view)[0] == "--- team-b/long (before)"
        assert view.virtual_size.height > view.scrollable_content_region.height

        await pilot.press("tab", "end")  # from the tabs to the diff, then its end
        assert view.scroll_y == view.max_scroll_y > 0
        shown = texts(view)
        assert shown[-1] == screen.shown["diff"].lines[-1]
        assert "+   key-0540: changed 540" in shown  # the last change of the data
        assert "--- team-b/long (before)" not in shown

        await pilot.press("home")
        assert texts(view)[0] == "--- team-b/long (before)"


async def test_added_and_removed_lines_are_marked_and_colored(
    collector: CollectorProcess,
) -> None:
    async with diff_of(collector, "long") as (_, screen):
        theme = screen.app.current_theme
        rows = dict(drawn(screen.query_one("#diff-view", LineView)))
        assert color(rows["-   key-0000: value 0"]) == Color.parse(theme.error)
        assert color(rows["+   key-0000: changed 0"]) == Color.parse(theme.success)
        assert color(rows["--- team-b/long (before)"]) == Color.parse(theme.accent or theme.primary)
        assert color(rows["    key-0001: value 1"]) != color(rows["+   key-0000: changed 0"])


async def test_the_diff_of_a_2000_line_object_from_its_first_lines_to_its_last(
    collector: CollectorProcess,
) -> None:
    async with diff_of(collector, "large") as (pilot, screen):
        view = screen.query_one("#diff-view", LineView)
        assert texts(view)[:6] == [
            "--- team-b/large (before)",
            "+++ team-b/large (after)",
            "  apiVersion: v1",
            "  data:",
            "-   key-0000: value 0",
            "+   key-0000: changed 0",
        ]

        await pilot.press("tab", "end")
        assert view.scroll_y == view.max_scroll_y > 0
        assert texts(view)[-10:] == [
            ELISION,
            "    key-1897: value 1897",
            "    key-1898: value 1898",
            "    key-1899: value 1899",
            "-   key-1900: value 1900",
            "+   key-1900: changed 1900",
            "    key-1901: value 1901",
            "    key-1902: value 1902",
            "    key-1903: value 1903",
            ELISION,
        ]
        theme, rows = screen.app.current_theme, dict(drawn(view))
        assert color(rows["-   key-1900: value 1900"]) == Color.parse(theme.error)
        assert color(rows["+   key-1900: changed 1900"]) == Color.parse(theme.success)
        assert color(rows["    key-1901: value 1901"]) == color(rows["    key-1897: value 1897"])
        assert color(rows["    key-1901: value 1901"]) != Color.parse(theme.success)
        assert all(
            style is not None and style.dim for text, style in drawn(view) if text == ELISION
        )

        await pilot.press("home")
        assert texts(view)[0] == "--- team-b/large (before)"


async def test_the_object_tab_of_a_2000_line_object_scrolls_to_its_last_line(
    collector: CollectorProcess,
) -> None:
    async with diff_of(collector, "large") as (pilot, screen):
        await pilot.press("3")
        await wait_until(pilot, lambda: "object" in screen.shown)
        view = screen.query_one("#object-view", LineView)
        assert view.virtual_size.height == len(view.lines) > LARGE
        assert texts(view)[:3] == ["apiVersion: v1", "data:", "  key-0000: changed 0"]

        await pilot.press("tab", "end")
        shown = texts(view)
        assert shown[-1] == view.lines[-1].rstrip() != ""
        assert "apiVersion: v1" not in shown
        assert view.lines.index("  key-1999: value 1999") == LARGE + 1


async def test_patch_and_object_are_drawn_when_their_tab_is_first_shown(
    collector: CollectorProcess,
) -> None:
    async with diff_of(collector, "long") as (pilot, screen):
        patch = screen.query_one("#patch-view", LineView)
        obj = screen.query_one("#object-view", LineView)
        assert patch.lines == []
        assert obj.lines == []

        await pilot.press("2")
        await wait_until(pilot, lambda: "patch" in screen.shown)
        assert 'replace /data/key-0000: "value 0" -> "changed 0"' in texts(patch)
        assert len(patch.lines) == KEYS // 60
        assert obj.lines == []

        await pilot.press("3")
        await wait_until(pilot, lambda: "object" in screen.shown)
        assert texts(obj)[:3] == ["apiVersion: v1", "data:", "  key-0000: changed 0"]
        assert "  key-0599: value 599" in obj.lines

        obj.text_select_all()
        assert screen.get_selected_text() == "\n".join(obj.lines)


async def test_a_change_to_noise_alone_says_so_until_noise_is_shown(
    collector: CollectorProcess,
) -> None:
    async with diff_of(collector, "quiet") as (pilot, screen):
        view = screen.query_one("#diff-view", LineView)
        assert screen.shown["diff"].lines == [NO_CHANGE]
        assert screen.shown["diff"].kinds is None
        assert texts(view)[0] == NO_CHANGE

        await pilot.press("m")
        await wait_until(pilot, lambda: "diff" in screen.shown and screen.shown["diff"].kinds)
        assert '+   resourceVersion: "339"' in texts(view)


async def test_diff_of_a_set_image(fed_collector: CollectorProcess) -> None:
    initial = EventFilter(user="alice", name="nginx", operation="UPDATE", people=True)
    app = LogistisApp(ConnectionSettings(url=fed_collector.api_url), initial)
    async with app.run_test(size=SIZE) as pilot:
        table = app.browse.query_one(EventTable)
        await wait_until(pilot, lambda: bool(table.events))
        row = next(i for i, e in enumerate(table.events) if e.field_manager == "kubectl-set")
        table.move_cursor(row=row)
        await pilot.press("enter")
        screen = app.screen
        assert isinstance(screen, DiffScreen)
        await wait_until(pilot, lambda: "diff" in screen.shown)
        diff = screen.shown["diff"]
        assert diff.kinds is not None
        changed = [
            (kind, line[2:].strip()) for kind, line in zip(diff.kinds, diff.lines, strict=True)
        ]
        assert (DiffKind.REMOVE, "- image: nginx:1.25") in changed
        assert (DiffKind.ADD, "- image: nginx:1.27") in changed
        assert not any("managedFields" in text for _, text in changed)

        await pilot.press("m")
        await wait_until(pilot, lambda: "diff" in screen.shown and screen.show_noise)
        assert any("managedFields" in line for line in screen.shown["diff"].lines)
        await pilot.press("2")
        await wait_until(pilot, lambda: "patch" in screen.shown)
        patch = screen.query_one("#patch-view", LineView).lines
        assert '/spec/template/spec/containers/0/image: "nginx:1.25" -> "nginx:1.27"' in "\n".join(
            patch
        )
        await pilot.press("escape")
        assert app.screen is app.browse


async def test_the_age_in_the_header_follows_the_clock(fed_collector: CollectorProcess) -> None:
    now = [datetime.now(UTC)]
    app = LogistisApp(ConnectionSettings(url=fed_collector.api_url), clock=lambda: now[0])
    async with app.run_test(size=SIZE) as pilot:
        table = app.browse.query_one(EventTable)
        await wait_until(pilot, lambda: bool(table.events))
        event = table.events[0]
        now[0] = event.time + timedelta(seconds=20)
        await pilot.press("enter")
        title = app.screen.query_one("#diff-title", Static)
        await wait_until(pilot, lambda: "20s ago" in str(title.render()))
        now[0] += timedelta(minutes=3)
        await wait_until(pilot, lambda: "3m ago" in str(title.render()))


async def test_the_blame_tab_credits_each_line_to_whoever_last_changed_it(
    fed_collector: CollectorProcess,
) -> None:
    initial = EventFilter(user="alice", name="nginx", operation="UPDATE", people=True)
    app = LogistisApp(ConnectionSettings(url=fed_collector.api_url), initial)
    async with app.run_test(size=SIZE) as pilot:
        table = app.browse.query_one(EventTable)
        await wait_until(pilot, lambda: bool(table.events))
        set_image = next(e for e in table.events if e.field_manager == "kubectl-set")
        table.move_cursor(row=table.events.index(set_image))
        await pilot.press("enter", "4")
        screen = app.screen
        assert isinstance(screen, DiffScreen)
        await wait_until(pilot, lambda: "blame" in screen.shown, within=20)
        lines = screen.shown["blame"].lines
    [image] = [line for line in lines if "image: nginx:" in line]
    assert image.split()[:2] == [str(set_image.id), "alice"]
    assert "kubectl-set" in image
    assert image.endswith("image: nginx:1.27")
    # Lines set when the object was created are the creator's.
    [kind] = [line for line in lines if line.endswith("│ kind: Deployment")]
    assert kind.split()[1] == "alice"

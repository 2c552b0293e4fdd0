"""Where the history is not whole, in the TUI: gaps, blind spots and changes that never landed.

The collector misses alice's `kubectl scale` (059), and is restarted while her merge patch of
the `owner` label (082) goes by: the nginx Deployment's history has two gaps and a blind spot.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import replace
from pathlib import Path

import pytest
from textual.pilot import Pilot

from logistis.client.events import GAP, Change, EventFilter
from logistis.client.marks import GAP_MARK, gap_line
from logistis.tui.app import ConnectionSettings, LogistisApp
from logistis.tui.screens.browse import BrowseScreen
from logistis.tui.screens.mark import MarkScreen
from logistis.tui.widgets.event_table import EventTable, Gap
from tests.blame.conftest import nginx_history
from tests.support.collector import CollectorProcess, post_reviews
from tests.support.fixtures import fixture_files, load
from tests.tui.conftest import wait_until

SIZE = (160, 50)
NGINX = EventFilter(namespace="team-a", kind="Deployment", name="nginx")
# A clean stop ends a run where it stops, whatever the interval; a long one keeps a loaded
# machine's stalls (a beat more than two intervals late starts a new run) out of the picture.
BEAT = ("--heartbeat-interval", "5")


def reviews(first: int, last: int, *, skip: tuple[int, ...] = ()) -> list[dict]:
    numbers = [int(p.name[:3]) for p in fixture_files()]
    return [load(n)["body"] for n in numbers if first <= n <= last and n not in skip]


@contextmanager
def history_with_holes(data: Path, *flags: str) -> Iterator[CollectorProcess]:
    """A collector that missed 059 and was stopped while 082 went by, running again."""
    with CollectorProcess(data, *BEAT, *flags) as before:
        assert all(r.status_code == 200 for r in post_reviews(before, reviews(1, 81, skip=(59,))))
    time.sleep(0.5)  # nobody recording: 082 goes by unseen
    with CollectorProcess(data, *BEAT, *flags) as after:
        assert all(r.status_code == 200 for r in post_reviews(after, reviews(83, 228)))
        yield after


@pytest.fixture(scope="module")
def holes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CollectorProcess]:
    with history_with_holes(tmp_path_factory.mktemp("holes") / "data") as collector:
        yield collector


def row_texts(table: EventTable) -> list[str]:
    return [" ".join(str(cell) for cell in table.get_row_at(i)) for i in range(table.row_count)]


@asynccontextmanager
async def shown(url: str, filter: EventFilter) -> AsyncIterator[tuple[Pilot[None], EventTable]]:
    """The TUI on `filter`, once its first rows are in the table."""
    app = LogistisApp(ConnectionSettings(url=url), filter)
    async with app.run_test(size=SIZE) as pilot:
        table = app.browse.query_one(EventTable)
        await wait_until(pilot, lambda: bool(table.events))
        yield pilot, table


async def test_gaps_and_the_blind_spot_are_rows_where_they_happened(
    holes: CollectorProcess,
) -> None:
    async with shown(holes.api_url, NGINX) as (_, table):
        rows = row_texts(table)
    marks = [(i, text) for i, text in enumerate(rows) if "⋯" in text]
    assert [" ".join(text[text.index("⋯") :].split()[:3]) for _, text in marks] == [
        "⋯ ? unrecorded",
        "⋯ blind spot",
        "⋯ ? unrecorded",
    ]
    owner, spot, replicas = (text for _, text in marks)
    assert "metadata.labels.owner" in owner
    assert "(stopped): no collector" in spot
    assert "spec.replicas" in replicas
    # Each gap row sits right below the event that found it: alice's next label patch, and
    # the controller's first status write after the scale.
    assert "alice" in rows[marks[0][0] - 1]
    assert "metadata.labels.env" in rows[marks[0][0] - 1]
    assert "-controller Deployment/status" in rows[marks[2][0] - 1]


async def test_enter_on_a_gap_row_explains_it_and_opens_no_event(
    holes: CollectorProcess,
) -> None:
    async with shown(holes.api_url, NGINX) as (pilot, table):
        gap_row = next(i for i, text in enumerate(row_texts(table)) if "⋯ ? unrecorded" in text)
        table.move_cursor(row=gap_row)
        assert table.selected is None
        mark = table.selected_mark
        assert isinstance(mark, Gap)
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, MarkScreen))
        text = str(pilot.app.screen.query_one("#mark-text").render())
        await pilot.press("escape")
        await wait_until(pilot, lambda: pilot.app.screen is pilot.app.browse)
    assert "⋯ unrecorded (continuity: gap)" in text
    assert "Deployment team-a/nginx" in text
    assert f"and event {mark.event.id}" in text
    assert "add /metadata/labels/owner" in text
    assert "not what the previous recorded event left" in text  # docs/trust.md's words


async def test_enter_on_a_blind_spot_says_when_and_why(holes: CollectorProcess) -> None:
    async with shown(holes.api_url, NGINX) as (pilot, table):
        spot_row = next(i for i, text in enumerate(row_texts(table)) if "⋯  blind spot" in text)
        table.move_cursor(row=spot_row)
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, MarkScreen))
        text = str(pilot.app.screen.query_one("#mark-text").render())
    assert "period" in text
    assert "stopped: a clean stop" in text
    assert "everything written then may be missing" in text


async def test_quick_filters_on_a_mark_row_change_nothing(holes: CollectorProcess) -> None:
    async with shown(holes.api_url, NGINX) as (pilot, table):
        gap_row = next(i for i, text in enumerate(row_texts(table)) if "⋯" in text)
        table.move_cursor(row=gap_row)
        await pilot.press("u", "K", "n", "o")
        await pilot.pause()
        assert pilot.app.browse.filter == NGINX
        assert isinstance(pilot.app.screen, BrowseScreen)


async def test_a_change_that_never_landed_is_dimmed_and_says_why(
    fed_collector: CollectorProcess,
) -> None:
    replicaset = EventFilter(namespace="team-a", kind="ReplicaSet", name="nginx-8ff954c69")
    async with shown(fed_collector.api_url, replicaset) as (_, table):
        lost = [e for e in table.events if e.never_landed]
        row = table.get_row_index(str(lost[0].id))
        changes = table.get_row_at(row)[-1]
        dim = table.get_component_rich_style("event-table--never-landed").dim
    assert len(lost) == 1
    # What changed first, then why (cut where the column ends; the diff says it whole).
    assert str(changes).startswith("✗ never landed: metadata")
    assert dim
    assert changes.spans[-1].style.dim


async def test_a_shown_change_is_marked_when_a_later_event_finds_it_never_landed(
    collector: CollectorProcess,
) -> None:
    replicaset = EventFilter(namespace="team-a", kind="ReplicaSet", name="nginx-8ff954c69")
    assert all(r.status_code == 200 for r in post_reviews(collector, reviews(1, 213)))
    async with shown(collector.api_url, replicaset) as (pilot, table):
        newest = table.events[0]
        assert newest.applied is None  # nothing after it yet
        assert all(r.status_code == 200 for r in post_reviews(collector, reviews(214, 228)))
        await wait_until(pilot, lambda: any(e.never_landed for e in table.events))
        (lost,) = [e for e in table.events if e.never_landed]
        changes = table.get_row_at(table.get_row_index(str(lost.id)))[-1]
    assert lost.id == newest.id
    assert str(changes).startswith("✗ never landed")


def test_what_happened_to_the_whole_object_unrecorded_is_said_in_words() -> None:
    (event,) = [e for e in nginx_history() if e.id == 51]

    def said(op: str) -> str | None:
        found = replace(event, continuity=GAP, unrecorded=(Change(op, ""),))
        return gap_line(found)

    gap = f"{GAP_MARK} changed outside the recorded history: "
    assert said("add") == gap + "created"
    assert said("remove") == gap + "removed"
    assert said("replace") == gap + "deleted and created again"

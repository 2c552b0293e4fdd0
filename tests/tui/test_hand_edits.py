"""Hand edits of what Argo CD and Flux manage, in the TUI: marked rows, the quick filter, the
key from a hand edit to its put-back and back, the filter bar's words, the diff's header.

The collector records tests/support/gitops.py's stories as Argo CD and Flux send them: alice
scales Argo CD's Deployment shop/web and its self-heal puts it back; bob changes the image of
Flux's Deployment blog/blog and it stays.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

import pytest
from textual.pilot import Pilot
from textual.widgets import Static

from logistis.client.events import Event, EventFilter
from logistis.tui.app import ConnectionSettings, LogistisApp
from logistis.tui.filter_syntax import FilterSyntaxError, parse, unparse
from logistis.tui.screens.diff import DiffScreen
from logistis.tui.widgets.event_table import EventTable
from tests.support.collector import CollectorProcess
from tests.support.gitops import ARGOCD_REVISION, stories_recorded
from tests.tui.conftest import wait_until
from tests.tui.test_history_marks import row_texts

SIZE = (160, 40)


@pytest.fixture(scope="module")
def gitops(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CollectorProcess]:
    with stories_recorded(tmp_path_factory.mktemp("gitops") / "data") as collector:
        yield collector


@asynccontextmanager
async def shown(url: str, filter: EventFilter) -> AsyncIterator[tuple[Pilot[None], LogistisApp]]:
    app = LogistisApp(ConnectionSettings(url=url), filter)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: bool(app.browse.query_one(EventTable).events))
        yield pilot, app


async def diff_shown(pilot: Pilot[None], app: LogistisApp) -> DiffScreen:
    """The diff screen once it has drawn its first tab. Pushed, it is the app's screen before
    its tabs are mounted: a test that ended then would stop the app in the middle of that."""
    await wait_until(pilot, lambda: "diff" in getattr(app.screen, "shown", {}))
    assert isinstance(app.screen, DiffScreen)
    return app.screen


def table(app: LogistisApp) -> EventTable:
    return app.browse.query_one(EventTable)


def by_user(app: LogistisApp, user: str) -> Event:
    return next(e for e in table(app).events if e.user.username == user and e.hand_edit)


def test_the_filter_bar_takes_hand_actor_tool_and_managed() -> None:
    text = "actor:person tool:kubectl hand:true managed:argocd"
    filter = parse(text, people=True)
    assert filter == EventFilter(
        people=True, hand_edit=True, actor="person", tool="kubectl", managed_by="argocd"
    )
    assert ("handEdit", "true") in filter.to_params()
    assert ("managedBy", "argocd") in filter.to_params()
    assert parse(unparse(filter), people=True) == filter
    assert unparse(filter) == text


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("hand:maybe", "hand:maybe is not true or false (true, false)"),
        ("actor:robot", "actor:robot is not a kind of actor"),
        ("tool:kustomize", "tool:kustomize is not a tool (argocd, flux, helm, kubectl)"),
        ("managed:kubectl", "managed:kubectl is not a managing tool (argocd, flux, helm)"),
    ],
)
def test_values_the_collector_would_refuse_are_refused_first(text: str, reason: str) -> None:
    with pytest.raises(FilterSyntaxError, match=reason.replace("(", r"\(").replace(")", r"\)")):
        parse(text, people=None)


async def test_rows_mark_hand_edits_put_back_and_stuck(gitops: CollectorProcess) -> None:
    async with shown(gitops.api_url, EventFilter()) as (_, app):
        rows = {
            e.id: text for e, text in zip(table(app).events, row_texts(table(app)), strict=True)
        }
        alice, bob = by_user(app, "alice"), by_user(app, "bob")
    assert "✋↩ spec.replicas" in rows[alice.id]
    assert "✋ spec.template...image" in rows[bob.id]
    assert alice.reverted_by is not None
    assert "↩ spec.replicas" in rows[alice.reverted_by]
    marked = [text for text in rows.values() if "✋" in text or "↩" in text]
    assert len(marked) == 3  # nothing else: controllers, status and unmanaged writes


async def test_h_shows_only_hand_edits_and_back(gitops: CollectorProcess) -> None:
    async with shown(gitops.api_url, EventFilter(people=True)) as (pilot, app):
        everything = len(table(app).events)
        await pilot.press("h")
        await wait_until(pilot, lambda: len(table(app).events) == 2)
        assert {e.user.username for e in table(app).events} == {"alice", "bob"}
        assert app.browse.filter.hand_edit is True
        assert "hand:true" in app.browse.query_one("#filter-input").value
        await pilot.press("h")
        await wait_until(pilot, lambda: len(table(app).events) == everything)


async def test_v_goes_from_a_hand_edit_to_its_put_back_and_back(gitops: CollectorProcess) -> None:
    async with shown(gitops.api_url, EventFilter()) as (pilot, app):
        alice = by_user(app, "alice")
        assert table(app).select_event(alice.id)
        await pilot.press("v")
        assert table(app).selected is not None
        assert table(app).selected.id == alice.reverted_by
        assert table(app).selected.reverts == (alice.id,)
        await pilot.press("v")
        assert table(app).selected == alice
        bob = by_user(app, "bob")
        table(app).select_event(bob.id)
        await pilot.press("v")  # it stuck: said so, the cursor stays
        assert table(app).selected == bob
        assert any("stuck" in n.message for n in app._notifications)


async def test_v_opens_a_put_back_the_list_does_not_hold(gitops: CollectorProcess) -> None:
    """People only: Argo CD's write is not in the list, so it is opened."""
    async with shown(gitops.api_url, EventFilter(people=True)) as (pilot, app):
        alice = by_user(app, "alice")
        table(app).select_event(alice.id)
        await pilot.press("v")
        screen = await diff_shown(pilot, app)
        assert screen.summary.id == alice.reverted_by
        header = str(screen.query_one("#diff-provenance", Static).render())
        assert "actor gitops (argocd)" in header
        assert f"puts back hand edit {alice.id}" in header
        assert f"revision shop@{ARGOCD_REVISION}" in header


async def test_the_diff_header_says_who_acted_and_what_manages_the_object(
    gitops: CollectorProcess,
) -> None:
    async with shown(gitops.api_url, EventFilter(people=True)) as (pilot, app):
        bob = by_user(app, "bob")
        table(app).select_event(bob.id)
        await pilot.press("enter")
        provenance = (await diff_shown(pilot, app)).query_one("#diff-provenance", Static)
        header = str(provenance.render())
        assert header.startswith("✋ actor person (kubectl)")
        assert "managed by flux flux-system/apps" in header
        assert "hand edit, not put back" in header
        assert provenance.has_class("-hand-edit")

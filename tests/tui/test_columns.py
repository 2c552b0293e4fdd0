"""The event list at any width: what changed always on screen, no column left too wide."""

from __future__ import annotations

from rich.text import Text
from textual.widgets.data_table import ColumnKey

from logistis.tui.format import short_identity
from logistis.tui.widgets.columns import PADDING, cut, fit, natural_widths
from logistis.tui.widgets.event_table import EventTable
from logistis.tui.widgets.namespace_tree import NamespaceTree
from tests.support.collector import CollectorProcess
from tests.tui.conftest import wait_until
from tests.tui.test_app import app_for, loaded, table

ROW = {
    "time": "just now",
    "operation": "UPDATE",
    "user": "sa:kube-system/deployment-controller",
    "object": "Deployment/status team-a/nginx",
    "manager": "kube-controller-manager",
    "changes": "status.observedGeneration, status.replicas",
}


def test_identities_are_shortened_where_they_are_long_and_regular() -> None:
    assert short_identity("system:serviceaccount:kube-system:job-controller") == (
        "sa:kube-system/job-controller"
    )
    assert short_identity("system:node:worker-1") == "node:worker-1"
    assert short_identity("system:apiserver") == "system:apiserver"
    assert short_identity("alice") == "alice"


def test_every_column_but_the_manager_fits_in_80_columns() -> None:
    widths = fit(78, natural_widths([ROW]))
    assert list(widths) == ["time", "operation", "user", "object", "changes"]
    assert sum(w + PADDING for w in widths.values()) <= 78
    assert widths["changes"] >= 78 // 4


def test_wide_tables_show_everything_whole() -> None:
    widths = fit(180, natural_widths([ROW]))
    assert all(widths[key] >= len(value) for key, value in ROW.items())


def test_long_values_are_cut_with_an_ellipsis() -> None:
    assert str(cut(Text("spec.replicas, spec.template"), 10)) == "spec.repl…"
    long = Text("sa:kube-system/deployment-controller")
    assert str(cut(long, 15, middle=True)) == "sa:ku…ontroller"
    assert str(cut(Text("alice"), 10)) == "alice"


async def test_at_80_columns_the_tree_hides_and_t_shows_it(
    fed_collector: CollectorProcess,
) -> None:
    app = app_for(fed_collector.api_url)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: loaded(app))
        tree = app.browse.query_one(NamespaceTree)
        assert not tree.display
        assert {"time", "operation", "user", "object", "changes"} <= set(table(app).widths)
        await pilot.press("T")
        await wait_until(pilot, lambda: tree.display)


async def test_no_toggle_leaves_a_column_wider_than_it_was(
    fed_collector: CollectorProcess,
) -> None:
    app = app_for(fed_collector.api_url)
    async with app.run_test(size=(200, 50)) as pilot:
        await wait_until(pilot, lambda: loaded(app))
        people = dict(table(app).widths)
        await pilot.press("p")
        await wait_until(pilot, lambda: table(app).widths["user"] > people["user"])
        await pilot.press("p")
        await wait_until(pilot, lambda: loaded(app) and app.browse.filter.people is True)
        await wait_until(pilot, lambda: table(app).widths == people)
        await pilot.press("t", "t")
        await wait_until(pilot, lambda: table(app).widths == people)


async def test_columns_sort_and_the_newest_first_order_comes_back(
    fed_collector: CollectorProcess,
) -> None:
    app = app_for(fed_collector.api_url)
    async with app.run_test(size=(200, 50)) as pilot:
        await wait_until(pilot, lambda: loaded(app))
        events = table(app)
        loaded_ids = [e.id for e in events.events]
        await pilot.press("s", "s", "s")  # time, op, user
        await wait_until(pilot, lambda: events.ordering == ("user", False))
        users = [str(events.get_row_at(i)[2]) for i in range(events.row_count)]
        assert users == sorted(users, key=str.lower)
        assert str(events.columns[ColumnKey("user")].label) == "user ▲"
        events.ordering = ("user", True)
        await pilot.pause()
        users = [str(events.get_row_at(i)[2]) for i in range(events.row_count)]
        assert users == sorted(users, key=str.lower, reverse=True)
        events.ordering = None
        await pilot.pause()
        assert [e.id for e in events.events] == loaded_ids
        assert str(events.get_row_at(0)[2]) == events.events[0].user.username
        # A click on a header sorts by that column.
        x = sum(events.widths[key] + PADDING for key in ("time", "operation")) + 1
        await pilot.click(EventTable, offset=(x, 0))
        await wait_until(pilot, lambda: events.ordering == ("user", False))

"""The filter model, the filter bar's language and its completions."""

from __future__ import annotations

import asyncio

import pytest
from textual.widgets import Input, Label

from logistis.client.events import EventFilter, Facets, KindCount, ValueCount
from logistis.tui.app import LogistisApp
from logistis.tui.filter_syntax import FilterSyntaxError, parse, unparse
from logistis.tui.widgets.empty_state import EmptyState
from logistis.tui.widgets.filter_bar import FacetSuggester
from tests.support.collector import CollectorProcess, post_reviews
from tests.support.fixtures import bodies, load
from tests.tui.conftest import wait_until
from tests.tui.test_app import SIZE, app_for, loaded, status, table


def test_params_leave_out_what_is_not_set_and_keep_cluster_scope() -> None:
    filter = EventFilter(namespace="", user="alice", people=True, since="2h")
    assert filter.to_params() == [
        ("namespace", ""),
        ("user", "alice"),
        ("people", "true"),
        ("since", "2h"),
    ]
    assert EventFilter().to_params() == []


def test_clearing_keeps_the_people_view() -> None:
    filter = EventFilter(kind="Deployment", q="nginx", people=True)
    assert filter.cleared() == EventFilter(people=True)
    assert filter.active() == [("kind", "Deployment"), ("q", "nginx")]


def test_parse_and_unparse_round_trip() -> None:
    text = "ns:team-a kind:Deployment user:alice op:UPDATE since:2h nginx web"
    filter = parse(text, people=True)
    assert filter == EventFilter(
        namespace="team-a",
        kind="Deployment",
        user="alice",
        operation="UPDATE",
        since="2h",
        q="nginx web",
        people=True,
    )
    assert parse(unparse(filter), people=True) == filter


def test_cluster_scoped_and_text_with_colons() -> None:
    text = "ns:- app.kubernetes.io/name:web"
    assert parse(text, people=None) == EventFilter(namespace="", q="app.kubernetes.io/name:web")
    assert unparse(EventFilter(namespace="")) == "ns:-"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("op:frobnicate", "op:frobnicate is not an operation (CREATE, UPDATE, DELETE, CONNECT)"),
        ("since:yesterday", "since:yesterday: 'yesterday' is not a time"),
        ("until:2h30", "until:2h30: '2h30' is not a time"),
        ("usr:alice", "usr: is not a filter (did you mean user:? filters: ns, namespace"),
    ],
)
def test_what_the_collector_would_refuse_is_refused_before_sending(text: str, reason: str) -> None:
    with pytest.raises(FilterSyntaxError) as refused:
        parse(text, people=None)
    assert str(refused.value).startswith(reason)


def test_operations_in_any_case_times_as_the_collector_takes_them() -> None:
    assert parse("op:update since:2026-11-25T10:00:00Z until:1h30m", people=None) == EventFilter(
        operation="UPDATE", since="2026-11-25T10:00:00Z", until="1h30m"
    )


def test_a_key_without_a_value_is_refused() -> None:
    with pytest.raises(FilterSyntaxError, match="user: needs a value"):
        parse("user:", people=None)


async def test_suggestions_come_from_the_facets() -> None:
    suggester = FacetSuggester()
    suggester.facets = Facets(
        total=3,
        users=(ValueCount("alice", 2), ValueCount("system:apiserver", 1, machine=True)),
        kinds=(KindCount("apps", "Deployment", "deployments", 3),),
        namespaces=(ValueCount("team-a", 3),),
        operations=(ValueCount("UPDATE", 3),),
    )
    assert await suggester.get_suggestion("us") == "user:"
    assert await suggester.get_suggestion("ns:team-a user:al") == "ns:team-a user:alice"
    # What was typed stays as typed; the collector matches kinds and operations in any case.
    assert await suggester.get_suggestion("kind:Dep") == "kind:Deployment"
    assert await suggester.get_suggestion("op:up") == "op:upDATE"
    assert await suggester.get_suggestion("nothing") is None


# -- in the app: a filter that cannot be shown is said so in place, never over other rows ------


def _bar_error(app: LogistisApp) -> str:
    return str(app.browse.query_one("#filter-error", Label).render())


def _empty_text(app: LogistisApp) -> str:
    empty = app.browse.query_one(EmptyState)
    return str(empty.render()) if empty.has_class("-shown") else ""


@pytest.mark.parametrize(
    ("typed", "reason"),
    [
        ("op:frobnicate", "op:frobnicate is not an operation"),  # refused before sending
        ("until:1h30m", "until: must be an RFC 3339 time or a duration"),  # by the collector
    ],
)
async def test_a_refused_filter_is_shown_in_place_and_no_rows_of_another(
    fed_collector: CollectorProcess, typed: str, reason: str
) -> None:
    app = app_for(fed_collector.api_url)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: loaded(app))
        await pilot.press("slash", *typed, "enter")
        await wait_until(pilot, lambda: reason in _bar_error(app))
        assert app.browse.query_one("#filter-input", Input).value == typed
        assert table(app).events == []
        assert table(app).row_count == 0
        assert reason in _empty_text(app)
        assert "x to clear" in _empty_text(app)
        assert "0 events" in str(status(app).render())
        assert not app._notifications  # in the bar, not a toast that vanishes
        await pilot.press("slash", "end", "backspace")  # changed: the reason goes with its text
        await wait_until(pilot, lambda: _bar_error(app) == "")
        await pilot.press("escape", "x")
        await wait_until(pilot, lambda: bool(table(app).events) and not _empty_text(app))


async def test_nothing_matches_says_what_to_do(fed_collector: CollectorProcess) -> None:
    app = app_for(fed_collector.api_url, EventFilter(user="nobody", people=True))
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: "Nothing matches user:nobody" in _empty_text(app))
        assert "x clears the filters" in _empty_text(app)


async def test_an_empty_history_says_how_to_fill_it(collector: CollectorProcess) -> None:
    app = app_for(collector.api_url)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: "No change recorded yet" in _empty_text(app))
        assert "make demo" in _empty_text(app)


async def test_counters_start_again_with_a_new_filter(collector: CollectorProcess) -> None:
    post_reviews(collector, bodies()[:150])
    app = app_for(collector.api_url)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: loaded(app))
        await pilot.press("f")
        await asyncio.to_thread(post_reviews, collector, [load(143)["body"]])
        await wait_until(pilot, lambda: status(app).new == 1)
        await pilot.press("slash", *"user:bob", "enter")
        await wait_until(pilot, lambda: app.browse.filter.user == "bob")
        assert status(app).new == 0
        assert "new" not in str(status(app).render())

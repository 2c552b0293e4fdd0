"""The filter model, the filter bar's language and its completions."""

from __future__ import annotations

import pytest

from logistis.tui.app.filter_syntax import FilterSyntaxError, parse, unparse
from logistis.tui.app.widgets.filter_bar import FacetSuggester
from logistis.tui.core.events import EventFilter, Facets, KindCount, ValueCount


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


def test_cluster_scoped_and_unknown_keys() -> None:
    assert parse("ns:- image:nginx", people=None) == EventFilter(namespace="", q="image:nginx")
    assert unparse(EventFilter(namespace="")) == "ns:-"


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

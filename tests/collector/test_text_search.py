"""The text search (`q`) on both stores: the same events whatever the store, every character
literal, ASCII letters folded and no others (as SQLite's `lower`); the distinct values it
searches first follow the events in and out."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from logistis.collector.history.events import Event, UserInfo
from logistis.collector.history.query import EventQuery, Page
from logistis.collector.pipeline.retention import enforce_once
from logistis.collector.store import StoreURL, open_store
from logistis.collector.store.protocol import Retention
from logistis.collector.store.where import TEXT_COLUMNS
from tests.collector.test_store import fixture_events
from tests.support.stores import table_rows

ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
SEARCHES = ("NGINX", "Kubectl-", "team-a", "deployment", "ALICE", "no-such-text",
            "jürgen", "JÜRGEN", "Ü", "ü", "straße", "STRASSE", "%", "_", "\\", "a_b", "x%y")  # fmt: skip


def searched(event: Event) -> tuple[str, ...]:
    return (event.user.username, event.namespace, event.name, event.resource.kind,
            event.field_manager)  # fmt: skip


def matches(event: Event, text: str) -> bool:
    needle = text.translate(ASCII_LOWER)
    return any(needle in value.translate(ASCII_LOWER) for value in searched(event))


def unusual(template: Event) -> list[Event]:
    """Events whose searched values hold non-ASCII letters and LIKE's wildcards."""
    person = UserInfo(username="Jürgen", uid="u-1", groups=("dev",), extra={})
    return [
        replace(template, uid="u1", user=person, name="Straße-1"),
        replace(template, uid="u2", name="a_b-config", field_manager="Helm-ÜBER"),
        replace(template, uid="u3", name="x%y", namespace="team-ü"),
        replace(template, uid="u4", name="back\\slash"),
    ]


async def test_q_selects_the_same_events_on_each_store(store_url: StoreURL):
    events = fixture_events()
    events += unusual(events[0])
    async with open_store(store_url, max_events_per_resource=1000) as store:
        await store.record(events)
        stored, _ = await store.list_events(EventQuery(), Page(limit=1000))
        for text in SEARCHES:
            found, _ = await store.list_events(EventQuery(text=text), Page(limit=1000))
            expected = [e.id for e in stored if matches(e, text)]
            assert [e.id for e in found] == expected, text
            facets = await store.facets(EventQuery(text=text))
            assert facets.total == len(expected), text
    assert [e.id for e in stored if matches(e, "JÜRGEN")] == []
    assert len([e for e in stored if matches(e, "jürgen")]) == 1


@pytest.mark.parametrize("kind", ["DEPLOYMENT", "deployment", "Deployments"])
async def test_kind_folds_case(store_url: StoreURL, kind: str):
    events = fixture_events()
    async with open_store(store_url, max_events_per_resource=1000) as store:
        await store.record(events)
        found, _ = await store.list_events(EventQuery(kinds=(kind,)), Page(limit=1000))
    assert found
    assert len(found) == sum(1 for e in events if e.resource.kind == "Deployment")


@pytest.mark.parametrize("kind", ["Deploy_ent", "Deploy%", "%", "_eployment", "Deployment\\"])
async def test_kind_is_no_pattern(store_url: StoreURL, kind: str):
    async with open_store(store_url, max_events_per_resource=1000) as store:
        await store.record(fixture_events())
        found, _ = await store.list_events(EventQuery(kinds=(kind,)), Page(limit=1000))
    assert found == []


def counted_values(url: StoreURL) -> set[tuple[str, ...]]:
    return set(table_rows(url, "SELECT field, value, count FROM search_values"))


def values_of_events(url: StoreURL) -> set[tuple[str, ...]]:
    rows = table_rows(url, f"SELECT id, {', '.join(TEXT_COLUMNS)} FROM events")
    counts: dict[tuple[str, str], int] = {}
    for _, *values in rows:
        for field, value in zip(TEXT_COLUMNS, values, strict=True):
            counts[field, value] = counts.get((field, value), 0) + 1
    return {(field, value, str(n)) for (field, value), n in counts.items()}


async def test_searched_values_follow_the_events_in_and_out(store_url: StoreURL):
    url = store_url
    old = datetime.now(UTC) - timedelta(days=40)
    events = fixture_events()
    aged = [replace(e, time=old, uid=f"old-{i}", name=f"gone-{i}") for i, e in enumerate(events)]
    async with open_store(url, max_events_per_resource=3) as store:
        await store.record(aged)
        await store.record(events)  # the per-resource limit removes events as they come
        assert counted_values(url) == values_of_events(url)
        found, _ = await store.list_events(EventQuery(text="gone-1"), Page(limit=1000))
        assert found
        await enforce_once(store, Retention(max_age=timedelta(days=30)))
        assert counted_values(url) == values_of_events(url)
        assert not any(value.startswith("gone-") for _, value, _ in counted_values(url))
        found, _ = await store.list_events(EventQuery(text="gone-1"), Page(limit=1000))
        assert found == []

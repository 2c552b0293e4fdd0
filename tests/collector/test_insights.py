"""`/api/v1/insights` counts exactly what `/api/v1/events` lists for the same filters and window,
on both stores: through a real collector after the deriver has kept who acted (the GitOps
stories and the captured fixtures), and on the stores themselves after per-resource trimming,
age retention and the upgrade of a SQLite store written by schema 6."""

from __future__ import annotations

import contextlib
import random
import sqlite3
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from openapi_spec_validator import validate as validate_spec

from logistis.collector.edge.counts import insights_answer
from logistis.collector.history import reading
from logistis.collector.history.actors import KINDS
from logistis.collector.history.events import MACHINE_PREFIX
from logistis.collector.history.insights import Window, at_ms, window
from logistis.collector.history.query import EventQuery, Page, QueryError
from logistis.collector.metrics import Metrics
from logistis.collector.pipeline.deriver import Deriver
from logistis.collector.pipeline.progress import Progress
from logistis.collector.pipeline.retention import enforce_once
from logistis.collector.pipeline.writer import CommitSignal
from logistis.collector.store import (
    Store,
    StoreURL,
    encode_event,
    insight_counts,
    insights_sql,
    open_store,
    sqlite_schema,
)
from logistis.collector.store.protocol import Retention
from tests.collector.test_store import fixture_events
from tests.support.collector import CollectorProcess, derived, post_reviews, wait_for
from tests.support.fixtures import bodies
from tests.support.gitops import argocd_story, flux_story, unmanaged_story
from tests.support.stores import BACKENDS, backend_env, insert_as_schema_6, table_rows

Summary = dict[str, Any]
Lister = Callable[[dict[str, str]], list[Summary]]


def ranked(counts: Counter[Any], key: str | tuple[str, ...]) -> list[dict[str, Any]]:
    """A top list as the API orders it: most first, ties by their values' bytes."""
    names = (key,) if isinstance(key, str) else key
    values = sorted(counts.items(), key=lambda item: (-item[1], [v.encode() for v in item[0]]))
    return [{**dict(zip(names, value, strict=True)), "count": n} for value, n in values]


def expected(listed: Lister, params: dict[str, str], answer: dict[str, Any]) -> dict[str, Any]:
    """What the answer must say, from the events listed with its window and the filters."""
    window = {**params, "since": answer["since"], "until": answer["until"]}
    items = listed(window)
    starts = [datetime.fromisoformat(b["start"]) for b in answer["buckets"]]
    size = timedelta(seconds=answer["bucketSeconds"])

    def bucket_counts(events: list[Summary]) -> list[int]:
        times = [datetime.fromisoformat(e["time"]) for e in events]
        return [sum(start <= t < start + size for t in times) for start in starts]

    # One actor asked for: the others count none (one filter's values are alternatives).
    by_actor = {
        kind: listed({**window, "actor": kind}) if params.get("actor", kind) == kind else []
        for kind in KINDS
    }
    hand_edits = listed({**window, "handEdit": "true"})
    hours = [[0] * 24 for _ in range(7)]
    for event in items:
        moment = datetime.fromisoformat(event["time"])
        hours[moment.weekday()][moment.hour] += 1
    resource = lambda e: (e["resource"]["group"], e["resource"]["resource"], e["resource"]["kind"])  # noqa: E731
    people = Counter(
        (e["user"]["username"],)
        for e in items
        if not e["user"]["username"].startswith(MACHINE_PREFIX)
    )
    return {
        "total": len(items),
        "byActor": {kind: len(found) for kind, found in by_actor.items()},
        "handEdits": len(hand_edits),
        "bucketCounts": bucket_counts(items),
        "bucketActors": {kind: bucket_counts(found) for kind, found in by_actor.items()},
        "bucketHandEdits": bucket_counts(hand_edits),
        "busiestHours": hours,
        "topPeople": ranked(people, "user")[:10],
        "topNamespaces": ranked(Counter((e["namespace"],) for e in items), "namespace")[:10],
        "topKinds": ranked(Counter(resource(e) for e in items), ("group", "resource", "kind"))[:10],
        "topObjects": ranked(
            Counter((*resource(e), e["namespace"], e["name"]) for e in items),
            ("group", "resource", "kind", "namespace", "name"),
        )[:10],
    }


def as_compared(answer: dict[str, Any]) -> dict[str, Any]:
    buckets = answer["buckets"]
    return {
        "total": answer["total"],
        "byActor": answer["byActor"],
        "handEdits": answer["handEdits"],
        "bucketCounts": [b["count"] for b in buckets],
        "bucketActors": {kind: [b["byActor"][kind] for b in buckets] for kind in KINDS},
        "bucketHandEdits": [b["handEdits"] for b in buckets],
        "busiestHours": answer["busiestHours"],
        **{key: answer[key] for key in ("topPeople", "topNamespaces", "topKinds", "topObjects")},
    }


# -- through a real collector ---------------------------------------------------------------

STORIES = [*argocd_story(), *flux_story(), *unmanaged_story()]


@pytest.fixture(scope="module", params=BACKENDS)
def insights_collector(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[CollectorProcess]:
    """The GitOps stories and the captured fixtures, derived, on each store."""
    data_dir = tmp_path_factory.mktemp("insights") / "data"
    with CollectorProcess(data_dir, env=backend_env(request)) as collector:
        reviews = [story.body for story in STORIES] + bodies()
        assert all(r.status_code == 200 for r in post_reviews(collector, reviews))
        with collector.client() as client:
            assert wait_for(lambda: derived(client), 20)
        yield collector


def http_lister(client: Any) -> Lister:
    def listed(params: dict[str, str]) -> list[Summary]:
        response = client.get("/api/v1/events", params={**params, "limit": "1000"})
        assert response.status_code == 200, response.text
        assert response.json()["next"] is None
        return response.json()["items"]

    return listed


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"since": "1h"},
        {"bucket": "1m"},
        {"namespace": "shop"},
        {"kind": "Deployment", "bucket": "5m"},
        {"people": "true"},
        {"actor": "gitops"},
        {"handEdit": "true"},
        {"user": "system:*"},
    ],
)
def test_the_insights_count_what_the_events_list(insights_collector, params):
    with insights_collector.client() as client:
        response = client.get("/api/v1/insights", params=params)
        assert response.status_code == 200, response.text
        answer = response.json()
        filters = {k: v for k, v in params.items() if k not in ("bucket", "since")}
        assert as_compared(answer) == expected(http_lister(client), filters, answer)
    assert answer["total"] > 0


def test_people_and_automation_and_hand_edits_are_told_apart(insights_collector):
    with insights_collector.client() as client:
        answer = client.get("/api/v1/insights").json()
        listed = http_lister(client)
        marks = Counter(e["continuity"] for e in listed({"until": answer["until"]}))
        not_applied = len([e for e in listed({"until": answer["until"]}) if e["applied"] is False])
    assert answer["byActor"]["person"] > 0
    assert answer["byActor"]["gitops"] > 0
    assert answer["handEdits"] == 2
    assert answer["marks"] == {
        "first": marks["first"],
        "gap": marks["gap"],
        "expected": marks["expected"],
        "notApplied": not_applied,
    }
    assert sum(answer["byActor"].values()) == answer["total"]
    assert {"alice", "bob"} <= {p["user"] for p in answer["topPeople"]}


def test_the_answer_is_what_the_openapi_description_says(insights_collector):
    with insights_collector.client() as client:
        spec = client.get("/api/v1/openapi.json").json()
        answer = client.get("/api/v1/insights", params={"top": "3"}).json()
    validate_spec(spec)
    jsonschema.validate(
        answer, {"$ref": "#/components/schemas/Insights", "components": spec["components"]}
    )
    assert len(answer["topObjects"]) == 3


def test_the_bucket_is_chosen_from_the_span_and_bad_parameters_are_400s(insights_collector):
    with insights_collector.client() as client:
        day = client.get("/api/v1/insights", params={"since": "24h"}).json()
        quarter = client.get("/api/v1/insights", params={"since": "90d"}).json()
        assert (day["bucketSeconds"], len(day["buckets"])) == (900, 97)
        assert quarter["bucketSeconds"] == 86400
        for name, value in (("bucket", "soon"), ("bucket", "1s"), ("top", "0"), ("color", "x")):
            response = client.get("/api/v1/insights", params={"since": "90d", name: value})
            assert response.status_code == 400, (name, value)
            assert name in response.json()["error"]


# -- on the stores themselves ---------------------------------------------------------------


async def listed_by(store: Store, params: dict[str, str]) -> list[Summary]:
    query = EventQuery(
        since=datetime.fromisoformat(params["since"]),
        until=datetime.fromisoformat(params["until"]),
        actors=(params["actor"],) if "actor" in params else (),
        hand_edit=True if "handEdit" in params else None,
    )
    events, cursor = await reading.page(store, query, Page(limit=1000))
    assert cursor is None
    return [e.summary() for e in events]


async def assert_exact(store: Store, bucket: str | None = "1h") -> None:
    now = datetime.now(UTC)
    chosen = window(now - timedelta(days=60), now, 3_600_000 if bucket else None)
    answer = insights_answer(await store.insights(_query(chosen), chosen, 10))
    listings: dict[tuple[tuple[str, str], ...], list[Summary]] = {}
    for params in _listings(answer):
        listings[tuple(sorted(params.items()))] = await listed_by(store, params)
    assert as_compared(answer) == expected(
        lambda params: listings[tuple(sorted(params.items()))], {}, answer
    )


def _query(chosen: Window) -> EventQuery:
    return EventQuery(since=chosen.since, until=chosen.until)


def _listings(answer: dict[str, Any]) -> list[dict[str, str]]:
    bounds = {"since": answer["since"], "until": answer["until"]}
    return [
        bounds,
        {**bounds, "handEdit": "true"},
        *({**bounds, "actor": kind} for kind in KINDS),
    ]


def spread(events: list, hours: int) -> list:
    """The events at different times, one every `hours` back from now."""
    now = datetime.now(UTC)
    return [replace(e, time=now - timedelta(hours=hours * n)) for n, e in enumerate(events)]


async def test_per_resource_trimming_and_age_retention_are_counted_out(store_url: StoreURL):
    template, *others = fixture_events()
    same = [replace(template, uid=f"same-{n}", name="trimmed") for n in range(7)]
    async with open_store(store_url, max_events_per_resource=3) as store:
        await store.record(spread([*same[:5], *others], hours=7))
        await store.record(spread(same[5:], hours=1))
        await assert_exact(store)
        removed = await enforce_once(store, Retention(max_age=timedelta(days=20)))
        assert removed > 0
        await assert_exact(store)
        everything = window(at_ms(0), datetime.now(UTC), None)
        answer = insights_answer(await store.insights(_query(everything), everything, 1))
    assert [(o["name"], o["count"]) for o in answer["topObjects"]] == [("trimmed", 3)]


async def test_a_sqlite_store_of_schema_6_counts_after_the_upgrade(tmp_path: Path):
    path = tmp_path / "db.sqlite"
    events = spread(fixture_events(), hours=3)
    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as connection:
        connection.execute("PRAGMA journal_mode=WAL")
        for number, script in enumerate(sqlite_schema.MIGRATIONS[:6], start=1):
            connection.executescript(f"BEGIN; {script}; PRAGMA user_version={number}; COMMIT;")
        insert_as_schema_6(connection, [encode_event(e).row for e in events])
    async with open_store(StoreURL.sqlite(path), max_events_per_resource=100) as store:
        await assert_exact(store)
        await store.record(spread(fixture_events()[:30], hours=2))
        await assert_exact(store, bucket=None)


# -- the counts per bucket against the events ---------------------------------------------------

# Every operation: a filter that selects every event, and that the counts do not cover, so the
# insights of the same events come from the events alone.
EVERY_OPERATION = EventQuery(operations=("CREATE", "UPDATE", "DELETE", "CONNECT"))


async def random_history(store: Store, rng: random.Random, now: datetime) -> None:
    """The fixtures again and again over ten days, in a few namespaces and names (objects with
    several events each, ties in the top lists), at random milliseconds, derived."""
    events = fixture_events()
    spread_events = [
        replace(
            rng.choice(events),
            uid=f"random-{n}",
            time=now - timedelta(milliseconds=rng.randrange(10 * 86_400_000)),
            namespace=rng.choice(("", "shop", "team-a", "team-b")),
            name=f"object-{rng.randrange(12)}",
        )
        for n in range(600)
    ]
    spread_events.sort(key=lambda e: e.time)
    for start in range(0, len(spread_events), 16):
        await store.record(spread_events[start : start + 16])
    deriver = Deriver(store, CommitSignal(), Progress(Metrics()))
    while not await deriver.derive_once():
        pass


async def assert_counted_as_listed(store: Store, rng: random.Random, now: datetime) -> None:
    """Random spans, buckets and namespaces: the insights from the counts are those from the
    events."""
    totals = []
    for _ in range(12):
        since = now - timedelta(milliseconds=rng.randrange(11 * 86_400_000))
        until = since + timedelta(milliseconds=rng.randrange(1, 11 * 86_400_000))
        bucket = rng.choice((None, None, 60_000, 7 * 60_000, 3_600_000, 86_400_000))
        try:
            chosen = window(since, until, bucket)
        except QueryError:
            continue
        namespaces = tuple(rng.sample(("", "shop", "team-a", "none"), rng.randrange(3)))
        counted = EventQuery(namespaces=namespaces, since=chosen.since, until=chosen.until)
        listed = replace(
            EVERY_OPERATION, namespaces=namespaces, since=counted.since, until=counted.until
        )
        top = rng.choice((1, 3, 10))
        answer = insights_answer(await store.insights(counted, chosen, top))
        assert answer == insights_answer(await store.insights(listed, chosen, top)), (
            chosen,
            namespaces,
            top,
        )
        totals.append(answer["total"])
    assert max(totals) > 100


@pytest.mark.parametrize("many", [insight_counts.MANY, 0])
async def test_the_counts_per_bucket_answer_as_the_events_do(
    store_url: StoreURL, many: int, monkeypatch: pytest.MonkeyPatch
):
    # `many` 0: the top objects from the objects' kept counts, a page of 5 at a time.
    monkeypatch.setattr(insight_counts, "MANY", many)
    monkeypatch.setattr(insight_counts, "OBJECTS_PAGE", 5)
    rng = random.Random(f"insights-{store_url.backend}-{many}")
    now = datetime.now(UTC)
    async with open_store(store_url, max_events_per_resource=30) as store:
        await random_history(store, rng, now)
        await assert_counted_as_listed(store, rng, now)
        # Retention takes its events' counts (and their provenance's) with it.
        assert await enforce_once(store, Retention(max_age=timedelta(days=6))) > 0
        await assert_counted_as_listed(store, rng, now)


@pytest.mark.parametrize("top", [1, 2, 3, 5, 10])
async def test_the_top_objects_rank_objects_of_one_event_after_those_of_more(
    store_url: StoreURL, top: int
):
    # Two objects of more than one event: a top of more than two needs those of one too.
    template = fixture_events()[0]
    names = ["e", "a", "c", "a", "b", "d", "a", "b"]
    events = [replace(template, uid=f"top-{n}", name=name) for n, name in enumerate(names)]
    ref = template.resource
    counts = Counter((ref.group, ref.resource, ref.kind, template.namespace, n) for n in names)
    keys = ("group", "resource", "kind", "namespace", "name")
    async with open_store(store_url) as store:
        await store.record(spread(events, hours=1))
        now = datetime.now(UTC)
        chosen = window(now - timedelta(days=1), now, None)
        # From the counts, and from the events alone.
        for query in (EventQuery(), EVERY_OPERATION):
            asked = replace(query, since=chosen.since, until=chosen.until)
            found = (await store.insights(asked, chosen, top)).objects
            listed = [{**dict(zip(keys, o.values, strict=True)), "count": o.count} for o in found]
            assert listed == ranked(counts, keys)[:top]


# One plan or the other: PostgreSQL's planner may take either from one page to the next (its
# statistics change under it), and ties must fall in the same order in both.
PLANS = ("", "SET enable_indexscan = off; SET enable_bitmapscan = off; ")


async def test_the_pages_of_the_busiest_objects_hold_each_object_once(store_url: StoreURL):
    template = fixture_events()[0]
    # Sixty objects of one to three events: every page of seven ends inside a tie.
    names = [f"tied-{n:02}" for n in range(60) for _ in range(1 + n % 3)]
    events = [replace(template, uid=f"tied-{n}", name=name) for n, name in enumerate(names)]
    async with open_store(store_url) as store:
        await store.record(spread(events, hours=1))
    statement = insights_sql.BUSIEST_OBJECTS.replace("LIMIT ? OFFSET ?", "LIMIT 7 OFFSET {}")
    rows: list[tuple[str, ...]] = []
    for offset in range(0, 70, 7):
        plan = PLANS[offset // 7 % 2] if store_url.backend == "postgresql" else ""
        # (psql says "SET" for each setting: not a row)
        rows += [r for r in table_rows(store_url, plan + statement.format(offset)) if len(r) == 5]
    assert sorted(name for _, name, *_ in rows) == sorted(set(names))
    counts = [int(count) for *_, count in rows]
    assert counts == sorted(counts, reverse=True)

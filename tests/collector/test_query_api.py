"""Filters, pagination, namespaces and facets of the query API, on the fed collector."""

from __future__ import annotations

import pytest

from tests.collector.test_recording import all_events
from tests.support.fixtures import bodies


def get(collector, path: str, **params):
    with collector.client() as client:
        return client.get(path, params=params)


def test_pages_cover_everything_once_newest_first(fed_collector):
    seen, cursor, pages = [], None, 0
    while True:
        page = get(
            fed_collector, "/api/v1/events", limit=7, **({"cursor": cursor} if cursor else {})
        ).json()
        seen.extend(e["id"] for e in page["items"])
        pages += 1
        cursor = page["next"]
        if cursor is None:
            break
    assert len(seen) == 224
    assert len(set(seen)) == 224
    assert seen == sorted(seen, reverse=True)
    assert pages == 32


@pytest.mark.parametrize(
    ("params", "check"),
    [
        ({"namespace": "team-a"}, lambda e: e["namespace"] == "team-a"),
        ({"namespace": ""}, lambda e: e["namespace"] == ""),
        ({"kind": "deployment"}, lambda e: e["resource"]["kind"] == "Deployment"),
        ({"kind": "deployments"}, lambda e: e["resource"]["resource"] == "deployments"),
        ({"group": "core", "kind": "ConfigMap"}, lambda e: e["resource"]["kind"] == "ConfigMap"),
        ({"name": "nginx"}, lambda e: e["name"] == "nginx"),
        ({"user": "alice"}, lambda e: e["user"]["username"] == "alice"),
        ({"user": "system:serviceaccount:kube-system:*"},
         lambda e: e["user"]["username"].startswith("system:serviceaccount:kube-system:")),
        ({"operation": "delete"}, lambda e: e["operation"] == "DELETE"),
        ({"people": "true"}, lambda e: not e["user"]["username"].startswith("system:")),
        ({"q": "kubectl-patch"}, lambda e: e["fieldManager"] == "kubectl-patch"),
        ({"since": "1h"}, lambda e: True),
    ],
)  # fmt: skip
def test_filters_select_exactly_the_matching_events(fed_collector, params, check):
    everything = all_events(fed_collector)
    selected = all_events(fed_collector, **params)
    assert selected, params
    assert all(check(e) for e in selected)
    assert len(selected) == sum(1 for e in everything if check(e))


def test_filters_combine_and_repeat(fed_collector):
    events = all_events(
        fed_collector, user=["alice", "bob"], operation="UPDATE", namespace="team-a"
    )
    assert {e["user"]["username"] for e in events} == {"alice"}
    assert all(e["operation"] == "UPDATE" and e["namespace"] == "team-a" for e in events)


def test_until_in_the_past_selects_nothing(fed_collector):
    assert all_events(fed_collector, until="2020-01-01T00:00:00Z") == []


def test_people_first_counts_match_the_fixture_population(fed_collector):
    people = all_events(fed_collector, people="true")
    humans = [
        b for b in bodies()
        if not b["request"]["userInfo"]["username"].startswith("system:") and not b["request"]["dryRun"]
    ]  # fmt: skip
    assert len(people) == len(humans)


def test_one_event_in_full(fed_collector):
    summary = all_events(fed_collector, name="nginx", kind="Deployment", operation="CREATE")[0]
    event = get(fed_collector, f"/api/v1/events/{summary['id']}").json()
    assert {k: event[k] for k in summary} == summary
    assert event["object"]["metadata"]["name"] == "nginx"
    assert event["oldObject"] is None
    assert get(fed_collector, "/api/v1/events/999999").status_code == 404


def test_namespaces_overview(fed_collector):
    items = {i["namespace"]: i for i in get(fed_collector, "/api/v1/namespaces").json()["items"]}
    events = all_events(fed_collector)
    assert sum(i["count"] for i in items.values()) == len(events)
    team_a = items["team-a"]
    assert team_a["count"] == sum(1 for e in events if e["namespace"] == "team-a")
    newest = next(e for e in events if e["namespace"] == "team-a")
    assert (team_a["lastTime"], team_a["lastUser"]) == (newest["time"], newest["user"]["username"])
    deployments = sum(
        1 for e in events if e["namespace"] == "team-a" and e["resource"]["kind"] == "Deployment"
    )
    assert {
        "group": "apps",
        "kind": "Deployment",
        "resource": "deployments",
        "count": deployments,
    } in team_a["kinds"]
    assert "" in items


def test_facets_count_with_and_without_filters(fed_collector):
    facets = get(fed_collector, "/api/v1/facets").json()
    assert facets["total"] == 224
    users = {u["value"]: u for u in facets["users"]}
    assert users["alice"] == {"value": "alice", "count": 17, "machine": False}
    assert users["system:apiserver"]["machine"] is True
    filtered = get(fed_collector, "/api/v1/facets", namespace="team-a", user="alice").json()
    assert filtered["total"] == len(all_events(fed_collector, namespace="team-a", user="alice"))
    by_name = get(fed_collector, "/api/v1/facets", name="nginx").json()
    assert by_name["total"] == len(all_events(fed_collector, name="nginx"))


@pytest.mark.parametrize(
    ("path", "params", "parameter"),
    [
        ("/api/v1/events", {"colour": "blue"}, "colour"),
        ("/api/v1/events", {"limit": "0"}, "limit"),
        ("/api/v1/events", {"limit": "abc"}, "limit"),
        ("/api/v1/events", {"cursor": "!!!"}, "cursor"),
        ("/api/v1/events", {"since": "yesterday"}, "since"),
        ("/api/v1/events", {"operation": "PATCH"}, "operation"),
        ("/api/v1/events", {"people": "maybe"}, "people"),
        ("/api/v1/facets", {"cursor": "x"}, "cursor"),
        ("/api/v1/stream", {"after": "-1"}, "after"),
    ],
)
def test_bad_parameters_are_a_400_that_names_them(fed_collector, path, params, parameter):
    answer = get(fed_collector, path, **params)
    assert answer.status_code == 400
    assert parameter in answer.json()["error"]


def test_unknown_path_is_a_json_404(fed_collector):
    answer = get(fed_collector, "/api/v2/nothing")
    assert answer.status_code == 404
    assert answer.json()["error"] == "Not Found"


def test_openapi_description_is_served(fed_collector):
    spec = get(fed_collector, "/api/v1/openapi.json").json()
    assert set(spec["paths"]) >= {
        "/api/v1/events",
        "/api/v1/stream",
        "/api/v1/facets",
        "/api/v1/coverage",
    }
    summary = spec["components"]["schemas"]["EventSummary"]
    assert {"continuity", "unrecordedChanges", "applied"} <= set(summary["required"])


def test_metrics_expose_admission_and_store_figures(fed_collector):
    text = get(fed_collector, "/metrics").text
    assert 'logistis_admission_requests_total{outcome="recorded"} 224.0' in text
    assert 'logistis_admission_requests_total{outcome="skipped"} 4.0' in text
    assert "logistis_commit_batch_size_bucket" in text
    assert "logistis_admission_latency_seconds_bucket" in text
    assert "logistis_store_bytes" in text

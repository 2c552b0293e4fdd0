"""Every captured request, posted to a real collector over TLS, read back through the API."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.collector import CollectorProcess
from tests.support.fixtures import bodies, index, load


def all_events(collector: CollectorProcess, **params: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    with collector.client() as client:
        while True:
            query = {**params, "limit": 1000, **({"cursor": cursor} if cursor else {})}
            page = client.get("/api/v1/events", params=query).json()
            items.extend(page["items"])
            cursor = page["next"]
            if cursor is None:
                return items


def by_uid(collector: CollectorProcess) -> dict[str, dict[str, Any]]:
    return {event["uid"]: event for event in all_events(collector)}


def test_every_fixture_is_answered_allowed_in_its_own_api_version(fed_collector):
    uids = {body["request"]["uid"] for body in bodies()}
    assert len(uids) == 228
    recorded = by_uid(fed_collector)
    # Dry runs are not recorded by default; everything else is.
    dry = {b["request"]["uid"] for b in bodies() if b["request"]["dryRun"]}
    assert len(dry) == 4
    assert set(recorded) == uids - dry


@pytest.mark.parametrize("row", [r for r in index() if not r["dryRun"]], ids=lambda r: r["file"])
def test_fixture_recorded_as_the_index_describes(fed_collector, recorded_by_uid, row):
    body = load(row["file"])["body"]
    request = body["request"]
    event = recorded_by_uid[request["uid"]]
    assert event["operation"] == row["operation"]
    assert event["user"]["username"] == row["username"]
    assert event["user"]["uid"] == row["user_uid"]
    assert event["user"]["groups"] == row["groups"]
    assert event["user"]["extra"] == row["extra"]
    group, version, _ = [*row["resource"].split(" ")[0].split("/"), ""]
    assert event["resource"]["group"] == ("" if group == "core" else group)
    assert event["resource"]["version"] == version
    assert event["resource"]["resource"] == row["resource"].split(" ")[1]
    assert event["resource"]["subresource"] == row["subResource"]
    assert event["name"] == (row["name"] or row["name_from_object"])
    expected_namespace = "" if event["resource"]["resource"] == "namespaces" else row["namespace"]
    assert event["namespace"] == expected_namespace
    assert event["fieldManager"] == row["fieldManager"]
    assert event["dryRun"] is False


@pytest.fixture(scope="module")
def recorded_by_uid(fed_collector):
    return by_uid(fed_collector)


def detail(collector: CollectorProcess, uid: str, recorded: dict[str, dict[str, Any]]) -> dict:
    with collector.client() as client:
        return client.get(f"/api/v1/events/{recorded[uid]['id']}").json()


def test_scale_is_filed_under_the_deployment_and_keeps_the_scale_object(
    fed_collector, recorded_by_uid
):
    request = load(59)["body"]["request"]
    event = detail(fed_collector, request["uid"], recorded_by_uid)
    assert event["resource"] == {
        "group": "apps", "version": "v1", "kind": "Deployment",
        "resource": "deployments", "subresource": "scale",
    }  # fmt: skip
    assert event["object"]["kind"] == "Scale"
    assert event["object"]["spec"]["replicas"] == 3
    assert event["oldObject"]["spec"]["replicas"] == 1
    assert event["changes"] == [{"op": "replace", "path": "/spec/replicas"}]


def test_custom_resource_scale_is_filed_under_its_kind(fed_collector, recorded_by_uid):
    event = recorded_by_uid[load(160)["body"]["request"]["uid"]]
    assert (event["resource"]["kind"], event["resource"]["subresource"]) == ("Widget", "scale")


def test_patch_kinds_differ_only_in_field_manager(fed_collector, recorded_by_uid):
    managers = {
        n: recorded_by_uid[load(n)["body"]["request"]["uid"]]["fieldManager"]
        for n in (71, 81, 82, 84, 96, 151)
    }
    assert managers == {
        71: "kubectl-set", 81: "kubectl-patch", 82: "kubectl-patch", 84: "kubectl-patch",
        96: "kubectl-client-side-apply", 151: "kubectl-replace",
    }  # fmt: skip
    assert recorded_by_uid[load(71)["body"]["request"]["uid"]]["changes"] == [
        {"op": "replace", "path": "/spec/template/spec/containers/0/image"}
    ]


def test_delete_collection_items_take_their_name_from_the_old_object(
    fed_collector, recorded_by_uid
):
    names = [recorded_by_uid[load(n)["body"]["request"]["uid"]]["name"] for n in range(222, 226)]
    assert names == ["api-key", "db-creds", "kube-root-ca.crt", "default"]
    deleted = detail(fed_collector, load(222)["body"]["request"]["uid"], recorded_by_uid)
    assert deleted["object"] is None
    assert deleted["oldObject"]["metadata"]["name"] == "api-key"
    assert deleted["changes"] == [{"op": "remove", "path": ""}]


def test_namespace_objects_are_cluster_scoped(fed_collector, recorded_by_uid):
    event = recorded_by_uid[load(221)["body"]["request"]["uid"]]
    assert (event["namespace"], event["name"], event["resource"]["kind"]) == (
        "", "team-b", "Namespace"
    )  # fmt: skip


def test_connect_without_metadata_is_recorded_on_the_pod(fed_collector, recorded_by_uid):
    event = detail(fed_collector, load(172)["body"]["request"]["uid"], recorded_by_uid)
    assert event["operation"] == "CONNECT"
    assert (event["resource"]["kind"], event["resource"]["subresource"]) == ("Pod", "exec")
    assert event["name"] == "tmp-shell"
    assert event["object"]["command"] == ["ls", "/"]
    assert event["options"] is None
    assert event["changes"] == []


def test_impersonated_request_shows_only_the_impersonated_user(fed_collector, recorded_by_uid):
    event = recorded_by_uid[load(170)["body"]["request"]["uid"]]
    assert event["user"] == {
        "username": "dave",
        "uid": "uid-dave-42",
        "groups": ["qa", "system:authenticated"],
        "extra": {"example.com/ticket": ["T-7", "T-8"], "reason": ["incident-42"]},
    }


def test_request_options_are_kept(fed_collector, recorded_by_uid):
    event = detail(fed_collector, load(193)["body"]["request"]["uid"], recorded_by_uid)
    assert event["options"]["propagationPolicy"] == "Foreground"


def test_v1beta1_review_is_answered_in_v1beta1(collector):
    body = load(45)["body"]
    body["apiVersion"] = "admission.k8s.io/v1beta1"
    with collector.webhook_client() as client:
        answer = client.post(collector.webhook_url, json=body).json()
    assert answer == {
        "apiVersion": "admission.k8s.io/v1beta1",
        "kind": "AdmissionReview",
        "response": {"uid": body["request"]["uid"], "allowed": True},
    }
    assert [e["uid"] for e in all_events(collector)] == [body["request"]["uid"]]

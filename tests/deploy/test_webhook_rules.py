"""Which real admission requests the rendered webhook configuration lets through.

The apiserver decides this before it calls the collector: rules, then the
namespaceSelector, then the CEL matchConditions. This module reproduces that
decision for the captured requests in testdata/admission, evaluating the
matchConditions with a real CEL implementation.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

import cel
import pytest

from tests.deploy.kustomize import BASE, find, render

FIXTURES = Path(__file__).parents[2] / "testdata" / "admission"
Request = dict[str, Any]


@cache
def _fixture_requests() -> dict[str, Request]:
    requests = {}
    for path in sorted(FIXTURES.glob("[0-9][0-9][0-9]-*.json")):
        requests[path.name[:3]] = json.loads(path.read_text())["body"]["request"]
    return requests


def fixture(number: str) -> Request:
    return copy.deepcopy(_fixture_requests()[number])


def all_fixtures() -> dict[str, Request]:
    return {number: fixture(number) for number in _fixture_requests()}


def _rule_matches(rule: dict[str, Any], request: Request) -> bool:
    resource, sub = request["resource"], request.get("subResource", "")
    namespaced = bool(request.get("namespace")) and resource["resource"] != "namespaces"
    wanted = (
        {"*", resource["resource"]}
        if not sub
        else {"*/*", f"{resource['resource']}/*", f"*/{sub}", f"{resource['resource']}/{sub}"}
    )
    scope = rule.get("scope", "*")
    return (
        bool({"*", request["operation"]} & set(rule["operations"]))
        and bool({"*", resource["group"]} & set(rule["apiGroups"]))
        and bool({"*", resource["version"]} & set(rule["apiVersions"]))
        and bool(wanted & set(rule["resources"]))
        and scope in ("*", "Namespaced" if namespaced else "Cluster")
    )


def _selected(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    operators = {
        "In": lambda key, values: labels.get(key) in values,
        "NotIn": lambda key, values: labels.get(key) not in values,
        "Exists": lambda key, _: key in labels,
        "DoesNotExist": lambda key, _: key not in labels,
    }
    return all(labels.get(k) == v for k, v in selector.get("matchLabels", {}).items()) and all(
        operators[e["operator"]](e["key"], e.get("values", []))
        for e in selector.get("matchExpressions", [])
    )


def _namespace_labels(request: Request) -> dict[str, str] | None:
    """The labels the namespaceSelector sees; None for other cluster-scoped objects."""
    if request["resource"]["resource"] == "namespaces":
        return {"kubernetes.io/metadata.name": request["name"]}
    if request.get("namespace"):
        return {"kubernetes.io/metadata.name": request["namespace"]}
    return None


def _cel_request(request: Request) -> Request:
    # The apiserver evaluates a typed AdmissionRequest: absent strings and lists are empty.
    typed = {"subResource": "", "name": "", "namespace": "", "requestSubResource": "", **request}
    typed["userInfo"] = {"groups": [], "extra": {}, "username": "", **request["userInfo"]}
    return typed


@cache
def _program(expression: str) -> Any:
    return cel.compile(expression)


def evaluate(hook: dict[str, Any], request: Request) -> dict[str, Any]:
    """Each matchCondition's result for `request`, by name."""
    context = cel.Context(
        {
            "request": _cel_request(request),
            "object": request.get("object"),
            "oldObject": request.get("oldObject"),
        }
    )
    return {c["name"]: _program(c["expression"]).execute(context) for c in hook["matchConditions"]}


def failed_conditions(hook: dict[str, Any], request: Request) -> list[str]:
    return [name for name, result in evaluate(hook, request).items() if result is not True]


def sent(hook: dict[str, Any], request: Request) -> bool:
    """Whether the apiserver calls this webhook for `request`."""
    if not any(_rule_matches(rule, request) for rule in hook["rules"]):
        return False
    labels = _namespace_labels(request)
    if labels is not None and not _selected(hook["namespaceSelector"], labels):
        return False
    return not failed_conditions(hook, request)


@pytest.fixture(scope="module")
def hook() -> dict[str, Any]:
    (webhook,) = find(render(BASE), "ValidatingWebhookConfiguration")["webhooks"]
    return webhook


def test_every_condition_is_valid_cel_returning_a_boolean(hook: dict[str, Any]) -> None:
    for number, request in all_fixtures().items():
        for name, result in evaluate(hook, request).items():
            assert isinstance(result, bool), (number, name)


def test_what_people_do_reaches_the_collector(hook: dict[str, Any]) -> None:
    people = {"alice", "bob", "carol", "dave", "kubernetes-admin"}
    left_out = {
        number
        for number, request in all_fixtures().items()
        if request["userInfo"]["username"] in people and not sent(hook, request)
    }
    # 165: `kubectl create token` (serviceaccounts/token), 174: `kubectl proxy` to a pod.
    assert left_out == {"165", "174"}


@pytest.mark.parametrize(
    ("number", "what"),
    [
        ("059", "kubectl scale of a Deployment (deployments/scale)"),
        ("160", "kubectl scale of a custom resource (*/scale)"),
        ("157", "a custom resource created"),
        ("161", "a custom resource's status edited by a person"),
        ("166", "a Deployment's status written with a service account token"),
        ("172", "kubectl exec (CONNECT pods/exec)"),
        ("175", "kubectl drain (pods/eviction)"),
        ("221", "a namespace deleted"),
        ("153", "a CustomResourceDefinition created"),
        ("163", "a Role created"),
        ("183", "a Deployment deleted"),
        ("184", "the garbage collector deleting what a Deployment owned"),
    ],
)
def test_changes_worth_keeping_are_sent(hook: dict[str, Any], number: str, what: str) -> None:
    assert sent(hook, fixture(number)), what


@pytest.mark.parametrize(
    ("number", "condition"),
    [
        ("083", "exclude-leases"),
        ("050", "exclude-events"),
        ("051", "exclude-control-plane-bookkeeping"),
        ("056", "exclude-control-plane-bookkeeping"),
        ("155", "exclude-control-plane-bookkeeping"),
        ("226", "exclude-control-plane-bookkeeping"),
    ],
)
def test_machine_traffic_is_left_out_by_its_condition(
    hook: dict[str, Any], number: str, condition: str
) -> None:
    request = fixture(number)
    assert any(_rule_matches(rule, request) for rule in hook["rules"])
    assert failed_conditions(hook, request) == [condition]


def test_no_lease_or_event_is_ever_sent(hook: dict[str, Any]) -> None:
    noisy = [
        number
        for number, request in all_fixtures().items()
        if request["resource"]["resource"] in ("leases", "events") and sent(hook, request)
    ]
    assert noisy == []


def test_most_captured_traffic_never_leaves_the_apiserver(hook: dict[str, Any]) -> None:
    requests = all_fixtures()
    kept = sum(sent(hook, request) for request in requests.values())
    assert kept < 0.6 * len(requests)


def test_node_heartbeats_are_left_out_but_a_person_labelling_a_node_is_not(
    hook: dict[str, Any],
) -> None:
    heartbeat = fixture("152")  # an UPDATE of a cluster-scoped core object, made into a Node's
    heartbeat["resource"] = {"group": "", "version": "v1", "resource": "nodes"}
    heartbeat["kind"] = {"group": "", "version": "v1", "kind": "Node"}
    heartbeat["name"] = "worker-1"
    heartbeat.pop("namespace", None)
    labelling = copy.deepcopy(heartbeat)
    heartbeat["subResource"] = "status"
    heartbeat["userInfo"] = {
        "username": "system:node:worker-1",
        "groups": ["system:nodes", "system:authenticated"],
    }
    assert "exclude-node-heartbeats" in failed_conditions(hook, heartbeat)
    assert not sent(hook, heartbeat)
    assert sent(hook, labelling)


@pytest.mark.parametrize(
    ("group", "resource"),
    [
        ("authentication.k8s.io", "tokenreviews"),
        ("authorization.k8s.io", "subjectaccessreviews"),
        ("authorization.k8s.io", "selfsubjectaccessreviews"),
    ],
)
def test_access_reviews_are_left_out(hook: dict[str, Any], group: str, resource: str) -> None:
    review = fixture("162")  # a CREATE by kubernetes-admin, made into a review
    review["resource"] = {"group": group, "version": "v1", "resource": resource}
    review.pop("namespace", None)
    assert any(_rule_matches(rule, review) for rule in hook["rules"])
    assert failed_conditions(hook, review) == ["exclude-access-reviews"]


def test_nothing_in_the_logistis_namespace_is_sent(hook: dict[str, Any]) -> None:
    request = fixture("143")  # bob creates a ConfigMap
    assert sent(hook, request)
    request["namespace"] = "logistis"
    assert not sent(hook, request)
    deleting = fixture("221")  # a Namespace DELETE, as if it were logistis itself
    deleting["name"] = deleting["namespace"] = "logistis"
    assert not sent(hook, deleting)

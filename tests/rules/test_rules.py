"""Capture rules decided over the real admission requests."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from logistis.collector.admission.rules import CaptureRules, Decision, build_rules

from .conftest import Request

DRY_RUNS = {2, 148, 149, 150}


def recorded(rules: CaptureRules, requests: Mapping[int, Request]) -> set[int]:
    return {n for n, request in requests.items() if rules.decide(request).record}


def excluded_by(rule: Mapping[str, Any], requests: Mapping[int, Request]) -> set[int]:
    """The requests one exclude rule drops (dry runs recorded, so only the rule decides)."""
    rules = build_rules({"exclude": [rule]}, record_dry_run=True)
    return set(requests) - recorded(rules, requests)


def where(requests: Mapping[int, Request], predicate: Callable[[Request], bool]) -> set[int]:
    return {n for n, request in requests.items() if predicate(request)}


def username(request: Request) -> str:
    return request["userInfo"]["username"]


def parent(request: Request) -> tuple[str, str]:
    return request["resource"]["group"], request["resource"]["resource"]


def test_defaults_record_everything_but_dry_runs(requests: dict[int, Request]) -> None:
    rules = build_rules(None)
    assert where(requests, lambda r: r["dryRun"]) == DRY_RUNS
    assert set(requests) - recorded(rules, requests) == DRY_RUNS
    assert rules.decide(requests[148]) == Decision(record=False, rule="dryRun")
    assert rules.decide(requests[1]) == Decision(record=True, rule=None)
    assert build_rules({}).decide(requests[2]).record is False


def test_dry_runs_recorded_when_enabled_in_file_or_flag(requests: dict[int, Request]) -> None:
    assert recorded(build_rules({"dryRun": True}), requests) == set(requests)
    assert recorded(build_rules(None, record_dry_run=True), requests) == set(requests)
    assert recorded(build_rules({"dryRun": True}, record_dry_run=False), requests) == (
        set(requests) - DRY_RUNS
    )


def test_users_exact_glob_and_regex(requests: dict[int, Request]) -> None:
    alice = excluded_by({"users": ["alice"]}, requests)
    assert alice == where(requests, lambda r: username(r) == "alice")
    assert len(alice) == 17
    controllers = excluded_by({"users": ["system:serviceaccount:kube-system:*"]}, requests)
    assert controllers == where(
        requests, lambda r: username(r).startswith("system:serviceaccount:kube-system:")
    )
    assert 166 not in controllers  # team-a's own service account
    assert excluded_by({"users": ["re:^(carol|dave)$"]}, requests) == {169, 170}
    assert excluded_by({"users": "bob"}, requests) == where(
        requests, lambda r: username(r) == "bob"
    )


def test_groups_match_any_group_of_the_user(requests: dict[int, Request]) -> None:
    masters = excluded_by({"groups": ["system:masters"]}, requests)
    assert masters == where(requests, lambda r: "system:masters" in r["userInfo"]["groups"])
    assert {172, 173, 174, 175, 220} <= masters
    team_sas = excluded_by({"groups": ["system:serviceaccounts:team-?"]}, requests)
    assert team_sas == {166}
    assert excluded_by({"groups": ["re:^qa$"]}, requests) == {169, 170}


def test_extra_all_keys_must_match(requests: dict[int, Request]) -> None:
    assert excluded_by({"extra": {"reason": ["incident-*"]}}, requests) == {170}
    both = {"example.com/ticket": ["T-8"], "reason": ["re:^incident-\\d+$"]}
    assert excluded_by({"extra": both}, requests) == {170}
    assert (
        excluded_by({"extra": {"example.com/ticket": ["T-7"], "reason": ["x"]}}, requests) == set()
    )
    tokens = excluded_by(
        {"extra": {"authentication.kubernetes.io/credential-id": ["JTI=*"]}}, requests
    )
    assert tokens == where(
        requests,
        lambda r: any(
            v.startswith("JTI=")
            for v in r["userInfo"]
            .get("extra", {})
            .get("authentication.kubernetes.io/credential-id", [])
        ),
    )
    assert 166 in tokens


def test_namespaces_and_cluster_scope(requests: dict[int, Request]) -> None:
    teams = excluded_by({"namespaces": ["team-*"]}, requests)
    assert teams == where(requests, lambda r: r.get("namespace", "").startswith("team-"))
    assert {7, 10, 221} <= teams  # Namespace objects carry their own name as namespace
    cluster = excluded_by({"namespaces": [""]}, requests)
    assert cluster == where(requests, lambda r: not r.get("namespace"))
    assert {23, 154, 155} <= cluster


def test_kinds_file_subresource_requests_under_the_parent(requests: dict[int, Request]) -> None:
    deployments = excluded_by({"kinds": ["apps/Deployment"]}, requests)
    assert deployments == where(requests, lambda r: parent(r) == ("apps", "deployments"))
    assert {59, 166} <= deployments  # kubectl scale (a Scale) and a status patch
    assert excluded_by({"kinds": ["Deployment"]}, requests) == deployments
    assert excluded_by({"kinds": ["apps/deployments"]}, requests) == deployments
    assert excluded_by({"kinds": ["example.com/Widget"]}, requests) >= {160}
    assert excluded_by({"kinds": ["autoscaling/Scale"]}, requests) == {59, 160}
    pods = excluded_by({"kinds": ["core/Pod"]}, requests)
    assert pods == where(requests, lambda r: parent(r) == ("", "pods"))
    assert {172, 173, 174, 175} <= pods  # exec, proxy and eviction act on the pod
    assert excluded_by({"kinds": ["policy/Eviction"]}, requests) == {175}
    assert excluded_by({"kinds": ["apps/ConfigMap"]}, requests) == set()
    leases = excluded_by({"kinds": ["coordination.k8s.io/Lease"]}, requests)
    assert leases == where(requests, lambda r: r["kind"]["kind"] == "Lease")
    assert excluded_by({"kinds": ["core/ServiceAccount"]}, requests) >= {15, 22}  # TokenRequests


def test_kinds_globs_and_regexes(requests: dict[int, Request]) -> None:
    k8s_io = excluded_by({"kinds": ["*.k8s.io/*"]}, requests)
    assert k8s_io == where(
        requests,
        lambda r: r["kind"]["group"].endswith(".k8s.io") or parent(r)[0].endswith(".k8s.io"),
    )
    rbac = excluded_by({"kinds": ["re:^rbac\\.authorization\\.k8s\\.io/(Cluster)?Role$"]}, requests)
    assert rbac == where(requests, lambda r: r["kind"]["kind"] in ("Role", "ClusterRole"))
    bindings = excluded_by({"kinds": ["*Binding"]}, requests)
    assert bindings == where(requests, lambda r: r["kind"]["kind"].endswith("Binding"))
    assert bindings
    assert excluded_by({"kinds": ["core/Config*"]}, requests) == where(
        requests, lambda r: r["kind"]["kind"] == "ConfigMap"
    )


def test_operations_and_subresources(requests: dict[int, Request]) -> None:
    assert excluded_by({"operations": ["CONNECT"]}, requests) == {172, 173, 174}
    assert excluded_by({"operations": ["delete"]}, requests) == where(
        requests, lambda r: r["operation"] == "DELETE"
    )
    status = excluded_by({"subresources": ["status"]}, requests)
    assert status == where(requests, lambda r: r.get("subResource") == "status")
    plain = excluded_by({"subresources": [""]}, requests)
    assert plain == where(requests, lambda r: "subResource" not in r)
    assert excluded_by({"subresources": ["s*"]}, requests) == where(
        requests, lambda r: r.get("subResource") in ("status", "scale")
    )


def test_selectors_of_a_rule_all_match(requests: dict[int, Request]) -> None:
    rule = {"users": ["alice"], "operations": ["DELETE"]}
    assert excluded_by(rule, requests) == {183, 193, 219}
    rule = {"kinds": ["apps/Deployment"], "subresources": ["scale"], "groups": ["dev-team"]}
    assert excluded_by(rule, requests) == {59}


def test_include_and_exclude_together(requests: dict[int, Request]) -> None:
    rules = build_rules(
        {
            "include": [{"name": "team-a", "namespaces": ["team-a"]}, {"users": ["bob"]}],
            "exclude": [{"name": "system", "users": ["system:*"]}],
        }
    )
    expected = where(
        requests,
        lambda r: (
            (r.get("namespace") == "team-a" or username(r) == "bob")
            and not username(r).startswith("system:")
            and not r["dryRun"]
        ),
    )
    assert recorded(rules, requests) == expected
    assert rules.decide(requests[183]) == Decision(record=True, rule="team-a")
    assert rules.decide(requests[147]) == Decision(record=True, rule="include[1]")
    assert rules.decide(requests[184]) == Decision(record=False, rule="system")
    assert rules.decide(requests[7]) == Decision(record=True, rule="team-a")
    assert rules.decide(requests[10]) == Decision(record=False, rule="include")


def test_flags_extend_the_file(requests: dict[int, Request]) -> None:
    rules = build_rules(
        {"include": [{"name": "admin", "users": ["kubernetes-admin"]}]},
        include={"users": ["alice"], "namespaces": ["team-a"], "kinds": []},
        exclude={"kinds": ["Pod"], "operations": ["DELETE"], "users": []},
    )
    assert [r.name for r in rules.exclude] == ["cli-exclude-kinds", "cli-exclude-operations"]
    expected = where(
        requests,
        lambda r: (
            (
                username(r) == "kubernetes-admin"
                or (username(r) == "alice" and r.get("namespace") == "team-a")
            )
            and parent(r) != ("", "pods")
            and r["operation"] != "DELETE"
            and not r["dryRun"]
        ),
    )
    assert recorded(rules, requests) == expected
    assert rules.decide(requests[171]) == Decision(record=False, rule="cli-exclude-kinds")
    assert rules.decide(requests[71]) == Decision(record=True, rule="cli-include")


def test_cel_over_request(requests: dict[int, Request]) -> None:
    system = excluded_by({"cel": "request.userInfo.username.startsWith('system:')"}, requests)
    assert system == where(requests, lambda r: username(r).startswith("system:"))
    in_dev_team = excluded_by(
        {"cel": "request.userInfo.groups.exists(g, g == 'dev-team')"}, requests
    )
    assert in_dev_team == where(requests, lambda r: "dev-team" in r["userInfo"]["groups"])
    no_sub = excluded_by({"cel": "request.subResource == '' && request.name != ''"}, requests)
    assert no_sub == where(requests, lambda r: "subResource" not in r and "name" in r)
    # As in Kubernetes matchConditions, the objects are variables of their own, not in request.
    assert excluded_by({"cel": "has(request.object)"}, requests) == set()
    managers = excluded_by(
        {"cel": "request.options.fieldManager.lowerAscii() == 'kubectl-patch'"}, requests
    )
    assert managers == where(
        requests, lambda r: (r.get("options") or {}).get("fieldManager") == "kubectl-patch"
    )


def replicas_changed(request: Request) -> bool:
    new, old = request.get("object") or {}, request.get("oldObject") or {}
    return (
        "replicas" in new.get("spec", {})
        and "replicas" in old.get("spec", {})
        and new["spec"]["replicas"] != old["spec"]["replicas"]
    )


def test_cel_records_only_replica_changes(requests: dict[int, Request]) -> None:
    rules = build_rules(
        {
            "include": [
                {"name": "replicas", "cel": "object.spec.replicas != oldObject.spec.replicas"}
            ]
        }
    )
    got = recorded(rules, requests)
    assert got == where(requests, lambda r: replicas_changed(r) and not r["dryRun"])
    assert {59, 160} <= got  # kubectl scale on a Deployment and on a custom resource
    assert rules.evaluation_errors["replicas"] > 0  # CREATE/DELETE/CONNECT: a null object


def test_cel_over_object_and_old_object(requests: dict[int, Request]) -> None:
    created = excluded_by({"cel": "oldObject == null"}, requests)
    assert created == where(requests, lambda r: r.get("oldObject") is None)
    labelled = excluded_by(
        {"cel": "has(object.metadata.labels) && object.metadata.labels['tier'] == 'web'"}, requests
    )
    assert labelled == where(
        requests,
        lambda r: (
            ((r.get("object") or {}).get("metadata", {}).get("labels") or {}).get("tier") == "web"
        ),
    )
    assert labelled
    client_side_apply = "f.manager == 'kubectl-client-side-apply'"
    applied = excluded_by(
        {"cel": f"object.metadata.managedFields.exists(f, {client_side_apply})"}, requests
    )
    assert applied == where(
        requests,
        lambda r: any(
            f.get("manager") == "kubectl-client-side-apply"
            for f in ((r.get("object") or {}).get("metadata") or {}).get("managedFields", [])
        ),
    )
    assert 145 in applied


def test_cel_errors_count_as_no_match_and_never_raise(requests: dict[int, Request]) -> None:
    rules = build_rules(
        {
            "exclude": [
                {"name": "overflow", "cel": "size(request.uid) / 0 == 1"},
                {"name": "bad-regex", "cel": "request.userInfo.username.matches('[')"},
                {"name": "not-bool", "cel": "object.metadata.name"},
                {"name": "pod-name", "cel": "object.metadata.name == 'tmp-shell'"},
            ]
        }
    )
    decisions = {n: rules.decide(r) for n, r in requests.items()}
    for n in (172, 173, 174):  # CONNECT: the object has no metadata
        assert decisions[n] == Decision(record=True, rule=None)
    assert decisions[171] == Decision(record=False, rule="pod-name")
    assert rules.evaluation_errors["pod-name"] >= 3
    total = len(requests) - len(DRY_RUNS)
    assert rules.evaluation_errors["overflow"] == total
    assert rules.evaluation_errors["bad-regex"] == total


def test_cel_runs_only_when_the_other_selectors_match(requests: dict[int, Request]) -> None:
    rule = {"name": "scaled", "operations": ["UPDATE"], "cel": "object.spec.replicas > 1"}
    rules = build_rules({"exclude": [rule]})
    for request in requests.values():
        rules.decide(request)
    updates = where(requests, lambda r: r["operation"] == "UPDATE")
    no_replicas = where(
        requests, lambda r: "replicas" not in (r.get("object") or {}).get("spec", {})
    )
    assert rules.evaluation_errors["scaled"] == len((updates & no_replicas) - DRY_RUNS)

"""`kubectl get changes`, as the requests kubectl sends: list, get, Table, field selectors,
paging with continue. /api/v1/events on the same collector is the reference answer."""

from __future__ import annotations

import httpx
import pytest

from tests.deploy.openapi import Schemas, openapi_dir
from tests.kubeapi.conftest import GV, TABLE_ACCEPT

ALL = 1000


@pytest.fixture(scope="module")
def kube(kube_collector, front_proxy):
    with front_proxy.client(kube_collector, "alice", ["dev-team"]) as client:
        yield client


def reference(collector, **params) -> list[dict]:
    """Every event /api/v1/events lists for these filters, newest first."""
    items, cursor = [], None
    with collector.client() as client:
        while True:
            page = client.get(
                "/api/v1/events",
                params={**params, "limit": ALL, **({"cursor": cursor} if cursor else {})},
            ).json()
            items += page["items"]
            cursor = page["next"]
            if not cursor:
                return items


def listed(client: httpx.Client, path: str, **params) -> dict:
    response = client.get(path, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def test_a_namespace_lists_its_changes_newest_first(kube, kube_collector):
    body = listed(kube, f"{GV}/namespaces/team-a/changes", limit=ALL)
    assert body["kind"] == "ChangeList"
    assert body["apiVersion"] == "logistis.io/v1alpha1"
    expected = reference(kube_collector, namespace="team-a")
    assert [i["event"] for i in body["items"]] == expected
    first = body["items"][0]
    assert (
        first["metadata"]["name"] == first["metadata"]["resourceVersion"] == str(expected[0]["id"])
    )
    assert first["metadata"]["namespace"] == "team-a"
    assert first["metadata"]["creationTimestamp"] == expected[0]["time"][:19] + "Z"
    assert "object" not in first


def test_all_namespaces_hold_every_namespaced_change_and_nothing_cluster_scoped(
    kube, kube_collector
):
    changes = listed(kube, f"{GV}/changes", limit=ALL)["items"]
    cluster = listed(kube, f"{GV}/clusterchanges", limit=ALL)["items"]
    everything = reference(kube_collector)
    assert all(c["metadata"].get("namespace") for c in changes)
    assert all("namespace" not in c["metadata"] and c["kind"] == "ClusterChange" for c in cluster)
    assert sorted(c["event"]["id"] for c in changes + cluster) == sorted(
        e["id"] for e in everything
    )
    assert cluster, "the fixtures hold cluster-scoped changes"


def test_list_objects_validate_as_kubernetes_lists(kube):
    schemas = Schemas(openapi_dir())
    body = listed(kube, f"{GV}/namespaces/team-a/changes", limit=5)
    meta = "io.k8s.apimachinery.pkg.apis.meta.v1"
    assert schemas.errors_as(f"{meta}.ListMeta", body["metadata"]) == []
    for item in body["items"]:
        assert schemas.errors_as(f"{meta}.ObjectMeta", item["metadata"]) == []


def test_one_change_in_full(kube, kube_collector):
    newest = reference(kube_collector, namespace="team-a")[0]
    response = kube.get(f"{GV}/namespaces/team-a/changes/{newest['id']}")
    assert response.status_code == 200
    body = response.json()
    with kube_collector.client() as client:
        detail = client.get(f"/api/v1/events/{newest['id']}").json()
    assert body["kind"] == "Change"
    assert body["event"] == newest
    assert body["object"] == detail["object"]
    assert body["oldObject"] == detail["oldObject"]


@pytest.mark.parametrize(
    "path",
    [
        "namespaces/kube-system/changes/{team_a}",  # another namespace's change
        "clusterchanges/{team_a}",  # a namespaced change is no cluster change
        "namespaces/team-a/changes/{cluster}",
        "namespaces/team-a/changes/99999999",
        "namespaces/team-a/changes/abc",
    ],
)
def test_a_change_outside_the_path_is_not_found(kube, kube_collector, path):
    team_a = reference(kube_collector, namespace="team-a")[0]["id"]
    cluster = reference(kube_collector, namespace="")[0]["id"]
    response = kube.get(f"{GV}/" + path.format(team_a=team_a, cluster=cluster))
    assert response.status_code == 404
    body = response.json()
    assert body["kind"] == "Status"
    assert body["reason"] == "NotFound"
    assert body["message"].endswith("not found")


@pytest.mark.parametrize(
    ("selector", "params"),
    [
        ("user=alice", {"user": "alice"}),
        ("user==alice,operation=DELETE", {"user": "alice", "operation": "DELETE"}),
        ("kind=Deployment", {"kind": "Deployment"}),
        ("group=apps,name=nginx", {"group": "apps", "name": "nginx"}),
        ("operation=create", {"operation": "CREATE"}),
        ("actor=person,tool=kubectl", {"actor": "person", "tool": "kubectl"}),
        ("actor=controller,handEdit=false", {"actor": "controller", "handEdit": "false"}),
    ],
)
def test_field_selectors_select_what_the_filters_do(kube, kube_collector, selector, params):
    body = listed(kube, f"{GV}/changes", fieldSelector=selector, limit=ALL)
    expected = [e for e in reference(kube_collector, **params) if e["namespace"]]
    assert expected, "the fixtures hold matching changes"
    assert [i["event"]["id"] for i in body["items"]] == [e["id"] for e in expected]


def test_text_and_time_filters_are_extra_parameters(kube, kube_collector):
    body = listed(kube, f"{GV}/changes", q="nginx", since="1h", limit=ALL)
    expected = [e for e in reference(kube_collector, q="nginx", since="1h") if e["namespace"]]
    assert [i["event"]["id"] for i in body["items"]] == [e["id"] for e in expected]
    assert listed(kube, f"{GV}/changes", until="2000-01-01T00:00:00Z")["items"] == []


def test_metadata_name_selects_one_change(kube, kube_collector):
    newest = reference(kube_collector, namespace="team-a")[0]["id"]
    body = listed(kube, f"{GV}/namespaces/team-a/changes", fieldSelector=f"metadata.name={newest}")
    assert [i["metadata"]["name"] for i in body["items"]] == [str(newest)]


# What the apiserver reads in a request decides what it authorizes before it proxies it: the
# verb (`watch` or `list`) and a `resourceNames` entry (the first `metadata.name` term, once
# the terms are sorted). The collector reads each exactly so, or refuses the request.


def refused(response: httpx.Response, words: str) -> None:
    assert response.status_code == 400, response.text
    body = response.json()
    assert (body["kind"], body["reason"]) == ("Status", "BadRequest")
    assert words in body["message"]


@pytest.mark.parametrize("order", [1, -1])
def test_two_names_in_a_field_selector_are_a_400(kube, kube_collector, order):
    first, second = [e["id"] for e in reference(kube_collector, namespace="team-a")[:2]]
    selector = ",".join(f"metadata.name={n}" for n in (first, second)[::order])
    response = kube.get(f"{GV}/namespaces/team-a/changes", params={"fieldSelector": selector})
    refused(response, "two values of metadata.name")
    same = f"metadata.name={first},metadata.name=={first}"
    body = listed(kube, f"{GV}/namespaces/team-a/changes", fieldSelector=same)
    assert [i["metadata"]["name"] for i in body["items"]] == [str(first)]


def test_every_term_beside_a_name_is_applied(kube, kube_collector):
    newest = reference(kube_collector, namespace="team-a")[0]
    path = f"{GV}/namespaces/team-a/changes"

    def names(selector: str) -> list[str]:
        body = listed(kube, path, fieldSelector=selector)
        return [i["metadata"]["name"] for i in body["items"]]

    user = newest["user"]["username"]
    assert names(f"metadata.name={newest['id']},user={user}") == [str(newest["id"])]
    assert names(f"metadata.name={newest['id']},user=nobody") == []
    assert names(f"user=nobody,metadata.name={newest['id']}") == []
    assert names(f"metadata.name={newest['id']},operation=CONNECT") == []
    assert names(f"metadata.name={newest['id']},metadata.namespace=team-a") == [str(newest["id"])]


@pytest.mark.parametrize(
    ("path", "selector", "words"),
    [
        ("namespaces/team-a/changes", "metadata.namespace=kube-system", "in namespace team-a"),
        ("clusterchanges", "metadata.namespace=team-a", "cluster-scoped"),
        ("changes", "metadata.namespace=", "namespaced"),
        ("changes", "user=alice,user=bob", "two values of user"),
        ("changes", "user=alice,metadata.name=5,spec.replicas=3", '"spec.replicas"'),
        ("changes", "user =alice", 'field label not supported: "user "'),
        ("changes", "metadata.name= 5", "must be an event id"),
        ("changes", "user=a\\x", "invalid escape"),
        ("changes", "user=a=b", "escape ="),
        ("changes", "user=alice,operation", "expected FIELD=VALUE"),
    ],
)
def test_a_term_that_cannot_be_applied_is_a_400(kube, path, selector, words):
    refused(kube.get(f"{GV}/{path}", params={"fieldSelector": selector}), words)


def test_terms_are_split_and_unescaped_as_the_apiserver_does(kube, kube_collector):
    selector = ",,metadata.namespace=team-a,user=alice,"
    body = listed(kube, f"{GV}/changes", fieldSelector=selector, limit=ALL)
    expected = reference(kube_collector, user="alice", namespace="team-a")
    assert expected, "the fixtures hold alice's changes in team-a"
    assert [i["event"]["id"] for i in body["items"]] == [e["id"] for e in expected]
    # An escaped comma is part of the value, not a second term.
    assert listed(kube, f"{GV}/changes", fieldSelector="user=alice\\,kind")["items"] == []


@pytest.mark.parametrize("value", ["1", "true", "yes", "t", "on", "2", "", "TRUE", "no"])
def test_watch_is_any_value_but_0_or_false(kube, value):
    response = kube.get(f"{GV}/changes", params={"watch": value, "timeoutSeconds": "1"})
    assert response.status_code == 200
    assert "ChangeList" not in response.text


@pytest.mark.parametrize("value", ["0", "false", "FALSE", "False"])
def test_watch_0_or_false_is_a_list(kube, value):
    assert listed(kube, f"{GV}/changes", watch=value, limit=1)["kind"] == "ChangeList"


@pytest.mark.parametrize(
    ("params", "words"),
    [
        ({"fieldSelector": "spec.replicas=3"}, 'field label not supported: "spec.replicas"'),
        ({"fieldSelector": "user!=alice"}, "only = and =="),
        ({"fieldSelector": "operation=PATCH"}, "operation"),
        ({"labelSelector": "app=nginx"}, "no labels"),
        ({"limit": "-1"}, "limit"),
        ({"continue": "garbage!"}, "continue"),
        ({"since": "yesterday"}, "since"),
        ({"color": "blue"}, "color"),
        ({"includeObject": "All"}, "includeObject"),
        ({"watch": "1", "sendInitialEvents": "true"}, "sendInitialEvents"),
    ],
)
def test_a_bad_parameter_is_a_400_status_naming_it(kube, params, words):
    response = kube.get(f"{GV}/changes", params=params, headers={"Accept": TABLE_ACCEPT})
    assert response.status_code == 400
    body = response.json()
    assert body["kind"] == "Status"
    assert body["reason"] == "BadRequest"
    assert words in body["message"]


def test_pages_with_continue_cover_every_change_once_at_one_version(kube, kube_collector):
    from tests.support.collector import post_reviews
    from tests.support.fixtures import bodies

    first = listed(kube, f"{GV}/changes", limit=7)
    version = first["metadata"]["resourceVersion"]
    assert first["metadata"]["remainingItemCount"] > 0
    # A change recorded between pages belongs to a later version: no page shows it.
    review = bodies()[5]
    review["request"]["uid"] = "0f0e0d0c-0000-4000-8000-0000000000aa"
    post_reviews(kube_collector, [review])
    items, body = list(first["items"]), first
    while body["metadata"].get("continue"):
        body = listed(kube, f"{GV}/changes", limit=7, **{"continue": body["metadata"]["continue"]})
        assert body["metadata"]["resourceVersion"] == version
        items += body["items"]
    ids = [int(i["metadata"]["name"]) for i in items]
    assert ids == sorted(ids, reverse=True)
    assert len(ids) == len(set(ids))
    assert ids == [
        e["id"] for e in reference(kube_collector) if e["namespace"] and e["id"] <= int(version)
    ]


# Tables


def test_kubectl_get_receives_a_table(kube, kube_collector):
    response = kube.get(
        f"{GV}/namespaces/team-a/changes", params={"limit": 500}, headers={"Accept": TABLE_ACCEPT}
    )
    assert response.status_code == 200
    table = response.json()
    assert (table["kind"], table["apiVersion"]) == ("Table", "meta.k8s.io/v1")
    columns = [(c["name"], c["priority"]) for c in table["columnDefinitions"]]
    assert [n for n, p in columns if p == 0] == [
        "Name",
        "Age",
        "Operation",
        "User",
        "Kind",
        "Object",
        "Changes",
    ]
    assert {n for n, p in columns if p == 1} == {"Group", "Field Manager", "Groups"}
    expected = reference(kube_collector, namespace="team-a")
    assert len(table["rows"]) == len(expected)
    row, event = table["rows"][0], expected[0]
    assert row["cells"][0] == str(event["id"])
    assert row["cells"][2:6] == [
        event["operation"],
        event["user"]["username"],
        event["resource"]["kind"],
        event["name"],
    ]
    assert row["object"]["kind"] == "PartialObjectMetadata"
    assert row["object"]["metadata"]["namespace"] == "team-a"
    assert len(row["cells"]) == len(columns)


def test_one_change_as_a_table_and_the_older_table_version(kube, kube_collector):
    newest = reference(kube_collector, namespace="team-a")[0]["id"]
    accept = "application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"
    table = kube.get(f"{GV}/namespaces/team-a/changes/{newest}", headers={"Accept": accept}).json()
    assert table["apiVersion"] == "meta.k8s.io/v1beta1"
    assert [r["cells"][0] for r in table["rows"]] == [str(newest)]


def test_what_kubectl_adds_is_accepted(kube):
    params = {"timeout": "32s", "pretty": "true", "labelSelector": "", "resourceVersion": "0"}
    response = kube.get(f"{GV}/changes", params={**params, "sendInitialEvents": "false"})
    assert response.status_code == 200
    assert response.json()["kind"] == "ChangeList"


@pytest.mark.parametrize("accept", ["application/json", "*/*", "", "application/json, */*"])
def test_other_accept_headers_get_plain_json_never_406(kube, accept):
    response = kube.get(f"{GV}/changes", params={"limit": 1}, headers={"Accept": accept})
    assert response.status_code == 200
    assert response.json()["kind"] == "ChangeList"


def test_a_table_with_whole_objects(kube):
    table = kube.get(
        f"{GV}/changes",
        params={"limit": 2, "includeObject": "Object"},
        headers={"Accept": TABLE_ACCEPT},
    ).json()
    assert all(r["object"]["kind"] == "Change" for r in table["rows"])

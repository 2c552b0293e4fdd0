"""Discovery and OpenAPI documents: what the aggregator and kubectl read before anything else."""

from __future__ import annotations

import json
import re

import pytest
from openapi_spec_validator import validate

from tests.deploy.openapi import Schemas, openapi_dir
from tests.kubeapi.conftest import GV
from tests.support.k8smodels import model_errors

META = "io.k8s.apimachinery.pkg.apis.meta.v1"


@pytest.fixture(scope="module")
def schemas() -> Schemas:
    return Schemas(openapi_dir())


@pytest.fixture(scope="module")
def get(kube_collector, front_proxy):
    with front_proxy.client(kube_collector, "system:kube-aggregator") as client:

        def fetch(path: str) -> dict:
            response = client.get(path)
            assert response.status_code == 200, response.text
            assert response.headers["content-type"].startswith("application/json")
            return response.json()

        yield fetch


def test_the_resource_list_validates_and_names_the_resources(get, schemas):
    resources = get(GV)
    assert schemas.errors_as(f"{META}.APIResourceList", resources) == []
    assert model_errors(resources, "V1APIResourceList") == []
    by_name = {r["name"]: r for r in resources["resources"]}
    assert by_name["changes"]["namespaced"] is True
    assert by_name["changes"]["shortNames"] == ["chg"]
    assert by_name["changes"]["kind"] == "Change"
    assert by_name["clusterchanges"]["namespaced"] is False
    assert by_name["clusterchanges"]["kind"] == "ClusterChange"
    assert by_name["changes"]["verbs"] == by_name["clusterchanges"]["verbs"]
    assert by_name["changes"]["verbs"] == ["get", "list", "watch"]
    assert by_name["blindspots"]["namespaced"] is False
    assert by_name["blindspots"]["kind"] == "BlindSpot"
    assert by_name["blindspots"]["verbs"] == ["get", "list"]


def test_the_group_documents_validate(get):
    group_list, group = get("/apis"), get("/apis/logistis.io")
    assert model_errors(group_list, "V1APIGroupList") == []
    assert model_errors(group, "V1APIGroup") == []
    assert group_list["groups"] == [group]
    assert group["preferredVersion"] == {
        "groupVersion": "logistis.io/v1alpha1",
        "version": "v1alpha1",
    }


def test_the_openapi_v3_index_has_the_shape_the_apiserver_serves(get):
    ours = get("/openapi/v3")
    apiserver = json.loads((openapi_dir() / "discovery.json").read_text())
    assert set(ours) == set(apiserver) == {"paths"}
    shape = re.compile(r"^/openapi/v3/(?P<path>.+)\?hash=[0-9A-F]{128}$")
    for index in (ours, apiserver):
        for path, entry in index["paths"].items():
            assert set(entry) == {"serverRelativeURL"}
            match = shape.match(entry["serverRelativeURL"])
            assert match
            assert match["path"] == path
    assert list(ours["paths"]) == ["apis/logistis.io/v1alpha1"]


def test_the_openapi_v3_document_is_valid_and_names_the_kinds(get):
    url = get("/openapi/v3")["paths"]["apis/logistis.io/v1alpha1"]["serverRelativeURL"]
    document = get(url)
    validate(document)
    assert document["openapi"] == "3.0.0"
    kinds = {
        gvk["kind"]
        for schema in document["components"]["schemas"].values()
        for gvk in schema.get("x-kubernetes-group-version-kind", [])
        if gvk["group"] == "logistis.io"
    }
    assert kinds == {
        "Change",
        "ChangeList",
        "ClusterChange",
        "ClusterChangeList",
        "BlindSpot",
        "BlindSpotList",
    }
    assert f"{GV}/namespaces/{{namespace}}/changes/{{name}}" in document["paths"]
    assert f"{GV}/blindspots/{{name}}" in document["paths"]


def test_the_openapi_v2_document_is_valid(get):
    document = get("/openapi/v2")
    validate(document)
    assert document["swagger"] == "2.0"
    assert f"{GV}/clusterchanges" in document["paths"]


def test_an_unknown_document_or_group_is_a_404_status(kube_collector, front_proxy):
    with front_proxy.client(kube_collector) as client:
        for path in (
            "/openapi/v4",
            "/apis/apps/v1",
            f"{GV}/widgets",
            f"{GV}/namespaces/a/clusterchanges",
            f"{GV}/namespaces/a/blindspots",
            f"{GV}/blindspots/1/more",
        ):
            response = client.get(path)
            assert response.status_code == 404, path
            assert response.json()["reason"] == "NotFound"

"""The kube-api component: the APIService, what RBAC it grants, and the collector's part."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from kubernetes import client

from logistis.collector.kubeapi.resources import GROUP, RESOURCES, VERSION
from logistis.collector.settings import DEFAULT_APISERVICE
from logistis.collector.trust.certmanager import (
    KubernetesTLSApi,
    SelfManagedConfig,
    SelfManagedTLS,
)
from logistis.collector.trust.defaults import DEFAULT_WEBHOOK_CONFIGURATION
from tests.deploy.apiserver import serving
from tests.deploy.kustomize import BASE, KUBE_API, KUBE_API_CERT_MANAGER, Manifest, find, render
from tests.deploy.test_selfmanaged_tls import SECRET, ca_bundles, rendered_state, stored_data
from tests.support.k8smodels import model_errors

KUBE_API_VARIANTS = {"kube-api": KUBE_API, "kube-api-cert-manager": KUBE_API_CERT_MANAGER}
TOKEN_PATH = "/var/run/secrets/kubernetes.io/serviceaccount"
READ = ["get", "list", "watch"]


def collector(objects: list[Manifest]) -> Manifest:
    (container,) = find(objects, "StatefulSet")["spec"]["template"]["spec"]["containers"]
    return container


def bindings_to(objects: list[Manifest], role: str) -> list[Manifest]:
    return [
        o
        for o in objects
        if o["kind"] in ("RoleBinding", "ClusterRoleBinding") and o["roleRef"]["name"] == role
    ]


def test_the_default_install_leaves_the_kubernetes_api_out() -> None:
    objects = render(BASE)
    assert not [o for o in objects if o["kind"] == "APIService"]
    assert "LOGISTIS_KUBE_API" not in {e["name"] for e in collector(objects).get("env", [])}


@pytest.mark.parametrize("variant", KUBE_API_VARIANTS)
def test_the_apiservice_is_valid_and_points_at_the_webhook_port(variant: str) -> None:
    objects = render(KUBE_API_VARIANTS[variant])
    apiservice = find(objects, "APIService")
    assert model_errors(apiservice, "V1APIService") == []
    spec = apiservice["spec"]
    assert apiservice["metadata"]["name"] == f"{VERSION}.{GROUP}" == DEFAULT_APISERVICE
    assert (spec["group"], spec["version"]) == (GROUP, VERSION)
    assert "insecureSkipTLSVerify" not in spec
    service = find(objects, "Service")
    assert spec["service"] == {
        "namespace": service["metadata"]["namespace"],
        "name": service["metadata"]["name"],
        "port": 443,
    }
    assert [p["port"] for p in service["spec"]["ports"]] == [443]


def test_the_apiservice_check_catches_a_misspelt_field() -> None:
    apiservice = find(render(KUBE_API), "APIService")
    apiservice["spec"]["groupPriorityMinimun"] = 1000
    del apiservice["spec"]["versionPriority"]
    errors = model_errors(apiservice, "V1APIService")
    assert any("groupPriorityMinimun" in e for e in errors)
    assert any("versionPriority" in e for e in errors)


@pytest.mark.parametrize("variant", KUBE_API_VARIANTS)
def test_viewers_of_a_namespace_read_its_changes_and_nobody_the_cluster_changes(
    variant: str,
) -> None:
    objects = render(KUBE_API_VARIANTS[variant])
    view = find(objects, "ClusterRole", "logistis-changes-view")
    labels = view["metadata"]["labels"]
    for role in ("view", "edit", "admin"):
        assert labels[f"rbac.authorization.k8s.io/aggregate-to-{role}"] == "true"
    assert view["rules"] == [{"apiGroups": [GROUP], "resources": ["changes"], "verbs": READ}]
    cluster = find(objects, "ClusterRole", "logistis-clusterchanges-view")
    assert cluster["rules"] == [
        {"apiGroups": [GROUP], "resources": ["clusterchanges"], "verbs": READ}
    ]
    assert not any(
        k.startswith("rbac.authorization.k8s.io/aggregate")
        for k in cluster["metadata"].get("labels", {})
    )
    assert bindings_to(objects, "logistis-clusterchanges-view") == []
    assert {r.plural for r in RESOURCES} == {"changes", "clusterchanges", "blindspots"}


@pytest.mark.parametrize("variant", KUBE_API_VARIANTS)
def test_every_authenticated_user_reads_the_blind_spots_and_nothing_else_through_them(
    variant: str,
) -> None:
    objects = render(KUBE_API_VARIANTS[variant])
    role = find(objects, "ClusterRole", "logistis-blindspots-view")
    assert role["rules"] == [
        {"apiGroups": [GROUP], "resources": ["blindspots"], "verbs": ["get", "list"]}
    ]
    (binding,) = bindings_to(objects, "logistis-blindspots-view")
    assert binding["kind"] == "ClusterRoleBinding"
    assert binding["subjects"] == [
        {"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "system:authenticated"}
    ]
    assert model_errors(binding, "V1ClusterRoleBinding") == []


@pytest.mark.parametrize("variant", KUBE_API_VARIANTS)
def test_the_collector_reads_the_front_proxy_ca_and_delegates_nothing(variant: str) -> None:
    objects = render(KUBE_API_VARIANTS[variant])
    (binding,) = bindings_to(objects, "extension-apiserver-authentication-reader")
    assert binding["kind"] == "RoleBinding"
    assert binding["metadata"]["namespace"] == "kube-system"
    assert binding["roleRef"]["kind"] == "Role"
    account = find(objects, "ServiceAccount")["metadata"]
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": account["name"], "namespace": account["namespace"]}
    ]
    # No SubjectAccessReviews: the apiserver authorizes before it proxies.
    assert bindings_to(objects, "system:auth-delegator") == []


@pytest.mark.parametrize("variant", KUBE_API_VARIANTS)
def test_the_collector_serves_the_api_with_its_token_mounted(variant: str) -> None:
    objects = render(KUBE_API_VARIANTS[variant])
    container = collector(objects)
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["LOGISTIS_KUBE_API"] == "true"
    (mount,) = [m for m in container["volumeMounts"] if m["mountPath"] == TOKEN_PATH]
    assert mount["readOnly"] is True
    volumes = find(objects, "StatefulSet")["spec"]["template"]["spec"]["volumes"]
    (volume,) = [v for v in volumes if v["name"] == mount["name"]]
    sources = volume["projected"]["sources"]
    assert any("serviceAccountToken" in s for s in sources)


def test_with_cert_manager_the_apiservice_ca_is_injected_like_the_webhooks() -> None:
    objects = render(KUBE_API_CERT_MANAGER)
    webhook = find(objects, "ValidatingWebhookConfiguration")["metadata"]["annotations"]
    apiservice = find(objects, "APIService")["metadata"]["annotations"]
    key = "cert-manager.io/inject-ca-from"
    assert apiservice[key] == webhook[key]
    # Self-managed TLS and its RBAC are gone; only the front-proxy reader stays.
    collector_bindings = [
        o["metadata"]["name"]
        for o in objects
        if o["kind"].endswith("Binding")
        and any(s["kind"] == "ServiceAccount" for s in o["subjects"])
    ]
    assert collector_bindings == ["logistis-collector-auth-reader"]


def test_self_managed_tls_keeps_the_apiservice_ca_with_the_rendered_rbac(tmp_path: Path) -> None:
    objects = render(KUBE_API)
    state = rendered_state(objects)
    apiservice = find(objects, "APIService")
    apiservice["metadata"]["resourceVersion"] = "1"
    state.apiservices[DEFAULT_APISERVICE] = apiservice
    with serving(state) as url:
        api = KubernetesTLSApi(client.ApiClient(client.Configuration(host=url, retries=0)))
        settings = SelfManagedConfig(
            SECRET, DEFAULT_WEBHOOK_CONFIGURATION, tmp_path / "tls", apiservice=DEFAULT_APISERVICE
        )
        manager = SelfManagedTLS(api, settings)
        manager.reconcile()
        bundle = base64.b64decode(state.apiservices[DEFAULT_APISERVICE]["spec"]["caBundle"])
        assert bundle == stored_data(state)["ca.crt"]
        assert ca_bundles(state) == [bundle]
        state.requests.clear()
        manager.reconcile()  # in agreement: nothing written
        assert state.writes() == []

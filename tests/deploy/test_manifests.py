"""The rendered manifests: valid for the apiserver, and safe by construction."""

from __future__ import annotations

import pytest
import yaml

from logistis.collector.edge.webhook import SHUTDOWN_GRACE_SECONDS
from logistis.collector.trust.certmanager import SERVICE_DNS_NAMES
from logistis.collector.trust.defaults import DEFAULT_SECRET, DEFAULT_WEBHOOK_CONFIGURATION
from tests.deploy.kustomize import (
    BASE,
    CERT_MANAGER,
    CUSTOM_IMAGE,
    HA,
    POSTGRES,
    VARIANTS,
    Manifest,
    find,
    kinds,
    render,
    workload,
)
from tests.deploy.openapi import Schemas, openapi_dir

NAMESPACE = "logistis"
WEBHOOK_PORT = 8443
CERT_MANAGER_KINDS = {("cert-manager.io/v1", "Issuer"), ("cert-manager.io/v1", "Certificate")}
# Not in testdata/openapi (apiregistration.k8s.io has no document there): checked against
# the kubernetes client's model instead (tests/deploy/test_kube_api_manifests.py).
APISERVICE_KIND = ("apiregistration.k8s.io/v1", "APIService")
# The one object outside the logistis namespace: the binding that lets the collector read
# the front-proxy CA, which has to live where the ConfigMap is.
ELSEWHERE = {("RoleBinding", "logistis-collector-auth-reader"): "kube-system"}
CLUSTER_SCOPED = {
    "APIService",
    "Namespace",
    "ClusterRole",
    "ClusterRoleBinding",
    "ValidatingWebhookConfiguration",
}


@pytest.fixture(scope="module")
def schemas() -> Schemas:
    return Schemas(openapi_dir())


def pod_spec(objects: list[Manifest]) -> Manifest:
    return workload(objects)["spec"]["template"]["spec"]


def collector(objects: list[Manifest]) -> Manifest:
    (container,) = pod_spec(objects)["containers"]
    return container


def env(container: Manifest) -> dict[str, str]:
    return {item["name"]: item["value"] for item in container.get("env", [])}


def port_number(container: Manifest, port: int | str) -> int:
    if isinstance(port, int):
        return port
    (number,) = [p["containerPort"] for p in container["ports"] if p["name"] == port]
    return number


# Validity


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_object_validates_against_the_openapi_documents(
    variant: str, schemas: Schemas
) -> None:
    objects = render(VARIANTS[variant])
    errors = [error for obj in objects if schemas.knows(obj) for error in schemas.errors(obj)]
    assert errors == []
    unknown = {(o["apiVersion"], o["kind"]) for o in objects if not schemas.knows(o)}
    expected = CERT_MANAGER_KINDS if "cert-manager" in variant else set()
    if "kube-api" in variant:
        expected = expected | {APISERVICE_KIND}
    assert unknown == expected


def test_the_validation_catches_a_misspelt_field(schemas: Schemas) -> None:
    statefulset = find(render(BASE), "StatefulSet")
    container = statefulset["spec"]["template"]["spec"]["containers"][0]
    container["securityContext"]["readOnlyRootFileSystem"] = True
    statefulset["spec"]["replicas"] = "1"
    errors = list(schemas.errors(statefulset))
    assert any("readOnlyRootFileSystem" in e for e in errors)
    assert any("/spec/replicas" in e for e in errors)


@pytest.mark.parametrize("variant", VARIANTS)
def test_everything_namespaced_lives_in_the_logistis_namespace(variant: str) -> None:
    objects = render(VARIANTS[variant])
    assert find(objects, "Namespace")["metadata"]["name"] == NAMESPACE
    for obj in objects:
        expected = None if obj["kind"] in CLUSTER_SCOPED else NAMESPACE
        expected = ELSEWHERE.get((obj["kind"], obj["metadata"]["name"]), expected)
        assert obj["metadata"].get("namespace") == expected, obj["metadata"]["name"]


# The webhook


@pytest.mark.parametrize("variant", VARIANTS)
def test_the_webhook_fails_open_fast_and_never_sees_its_own_namespace(variant: str) -> None:
    objects = render(VARIANTS[variant])
    configuration = find(objects, "ValidatingWebhookConfiguration")
    assert configuration["metadata"]["name"] == DEFAULT_WEBHOOK_CONFIGURATION
    for hook in configuration["webhooks"]:
        assert hook["failurePolicy"] == "Ignore"
        assert hook["sideEffects"] == "None"
        assert 1 <= hook["timeoutSeconds"] <= 5
        assert hook["admissionReviewVersions"] == ["v1"]
        assert hook["namespaceSelector"] == {
            "matchExpressions": [
                {"key": "kubernetes.io/metadata.name", "operator": "NotIn", "values": [NAMESPACE]}
            ]
        }
        assert "objectSelector" not in hook
        names = [condition["name"] for condition in hook["matchConditions"]]
        assert len(names) == len(set(names)) <= 64


@pytest.mark.parametrize("variant", VARIANTS)
def test_the_webhook_calls_the_service_that_reaches_the_collector(variant: str) -> None:
    objects = render(VARIANTS[variant])
    service = find(objects, "Service")
    (hook,) = find(objects, "ValidatingWebhookConfiguration")["webhooks"]
    assert hook["clientConfig"] == {
        "service": {
            "namespace": service["metadata"]["namespace"],
            "name": service["metadata"]["name"],
            "path": "/validate",
            "port": 443,
        }
    }
    assert f"{service['metadata']['name']}.{NAMESPACE}.svc" == SERVICE_DNS_NAMES[0]
    pod_labels = workload(objects)["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()


@pytest.mark.parametrize("variant", VARIANTS)
def test_the_service_exposes_only_the_webhook_port(variant: str) -> None:
    objects = render(VARIANTS[variant])
    service = find(objects, "Service")
    assert service["spec"]["type"] == "ClusterIP"
    (port,) = service["spec"]["ports"]
    assert port["port"] == 443
    assert port_number(collector(objects), port["targetPort"]) == WEBHOOK_PORT
    assert [p["containerPort"] for p in collector(objects)["ports"]] == [WEBHOOK_PORT]


# The pod


@pytest.mark.parametrize("variant", VARIANTS)
def test_the_pod_runs_unprivileged(variant: str) -> None:
    objects = render(VARIANTS[variant])
    spec = pod_spec(objects)
    pod_security = spec["securityContext"]
    assert pod_security["runAsNonRoot"] is True
    assert pod_security["runAsUser"] > 0
    assert pod_security["seccompProfile"] == {"type": "RuntimeDefault"}
    for forbidden in ("hostNetwork", "hostPID", "hostIPC"):
        assert not spec.get(forbidden)
    assert all("hostPath" not in volume for volume in spec["volumes"])
    for container in spec["containers"]:
        security = container["securityContext"]
        assert security["allowPrivilegeEscalation"] is False
        assert security["readOnlyRootFilesystem"] is True
        assert security["capabilities"] == {"drop": ["ALL"]}
        assert security.get("privileged", False) is False
        assert security.get("runAsUser", pod_security["runAsUser"]) > 0
    labels = find(objects, "Namespace")["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"


@pytest.mark.parametrize("variant", [v for v in VARIANTS if v != "ha"])
def test_one_replica_with_its_database_on_a_volume_and_bounded_resources(variant: str) -> None:
    objects = render(VARIANTS[variant])
    statefulset = find(objects, "StatefulSet")
    assert statefulset["spec"]["replicas"] == 1
    (claim,) = statefulset["spec"]["volumeClaimTemplates"]
    container = collector(objects)
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    assert mounts["/data"] == claim["metadata"]["name"]
    (tmp,) = [v for v in pod_spec(objects)["volumes"] if v["name"] == mounts["/tmp"]]
    assert "emptyDir" in tmp
    for kind in ("requests", "limits"):
        assert {"cpu", "memory"} <= container["resources"][kind].keys()


@pytest.mark.parametrize("variant", VARIANTS)
def test_probes_use_https_on_the_webhook_port(variant: str) -> None:
    container = collector(render(VARIANTS[variant]))
    expected = {"livenessProbe": "/healthz", "readinessProbe": "/readyz"}
    for probe, path in expected.items():
        action = container[probe]["httpGet"]
        assert action["scheme"] == "HTTPS"
        assert action["path"] == path
        assert port_number(container, action["port"]) == WEBHOOK_PORT


@pytest.mark.parametrize("variant", VARIANTS)
def test_the_query_api_stays_on_loopback(variant: str) -> None:
    container = collector(render(VARIANTS[variant]))
    assert "--api-listen=127.0.0.1:8080" in container["args"]
    assert not any(arg.startswith("--allow-public-api") for arg in container["args"])
    assert "LOGISTIS_API_LISTEN" not in env(container)
    assert "LOGISTIS_ALLOW_PUBLIC_API" not in env(container)


# Access to the Kubernetes API


def test_rbac_is_one_secret_and_one_webhook_configuration_by_name() -> None:
    objects = render(BASE)
    role, cluster_role = find(objects, "Role"), find(objects, "ClusterRole")
    secret_namespace, secret_name = DEFAULT_SECRET.split("/")
    assert role["metadata"]["namespace"] == secret_namespace
    assert role["rules"] == [
        {
            "apiGroups": [""],
            "resources": ["secrets"],
            "resourceNames": [secret_name],
            "verbs": ["get", "patch"],
        }
    ]
    assert cluster_role["rules"] == [
        {
            "apiGroups": ["admissionregistration.k8s.io"],
            "resources": ["validatingwebhookconfigurations"],
            "resourceNames": [DEFAULT_WEBHOOK_CONFIGURATION],
            "verbs": ["get", "patch"],
        }
    ]
    # `create` cannot be limited by name: the Secret ships with the manifests instead.
    secret = find(objects, "Secret", secret_name)
    assert secret["metadata"]["namespace"] == secret_namespace
    assert "data" not in secret


def test_rbac_binds_only_the_collector_service_account() -> None:
    objects = render(BASE)
    account = find(objects, "ServiceAccount")
    subject = {
        "kind": "ServiceAccount",
        "name": account["metadata"]["name"],
        "namespace": NAMESPACE,
    }
    for binding_kind, role_kind in (("RoleBinding", "Role"), ("ClusterRoleBinding", "ClusterRole")):
        binding = find(objects, binding_kind)
        assert binding["subjects"] == [subject]
        assert binding["roleRef"]["kind"] == role_kind
        assert binding["roleRef"]["name"] == find(objects, role_kind)["metadata"]["name"]
    assert pod_spec(objects)["serviceAccountName"] == account["metadata"]["name"]


def test_self_managed_tls_is_configured_for_the_objects_rbac_allows() -> None:
    objects = render(BASE)
    settings = env(collector(objects))
    assert settings["LOGISTIS_TLS_SELF_MANAGED"] == "true"
    assert settings["LOGISTIS_TLS_SECRET"] == DEFAULT_SECRET
    assert settings["LOGISTIS_WEBHOOK_CONFIGURATION"] == DEFAULT_WEBHOOK_CONFIGURATION
    assert pod_spec(objects)["automountServiceAccountToken"] is True


def test_with_cert_manager_the_collector_has_no_api_access() -> None:
    objects = render(CERT_MANAGER)
    assert not kinds(objects) & {"Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding"}
    assert "Secret" not in kinds(objects)
    assert pod_spec(objects)["automountServiceAccountToken"] is False
    assert not any(name.startswith("LOGISTIS_TLS_S") for name in env(collector(objects)))


def test_with_cert_manager_the_collector_serves_the_issued_certificate() -> None:
    objects = render(CERT_MANAGER)
    certificate = find(objects, "Certificate")
    issuer = find(objects, "Issuer")
    assert certificate["spec"]["issuerRef"] == {
        "kind": "Issuer",
        "name": issuer["metadata"]["name"],
    }
    assert SERVICE_DNS_NAMES[0] in certificate["spec"]["dnsNames"]
    container = collector(objects)
    (volume,) = [v for v in pod_spec(objects)["volumes"] if "secret" in v]
    assert volume["secret"]["secretName"] == certificate["spec"]["secretName"]
    (mount,) = [m for m in container["volumeMounts"] if m["name"] == volume["name"]]
    assert mount["readOnly"] is True
    settings = env(container)
    assert settings["LOGISTIS_TLS_CERT"] == f"{mount['mountPath']}/tls.crt"
    assert settings["LOGISTIS_TLS_KEY"] == f"{mount['mountPath']}/tls.key"
    annotations = find(objects, "ValidatingWebhookConfiguration")["metadata"]["annotations"]
    name = f"{certificate['metadata']['namespace']}/{certificate['metadata']['name']}"
    assert annotations["cert-manager.io/inject-ca-from"] == name


def test_the_custom_image_overlay_changes_the_image_and_nothing_else() -> None:
    base, custom = render(BASE), render(CUSTOM_IMAGE)
    assert collector(base)["image"] == "ghcr.io/logistis/logistis:dev"
    assert collector(custom)["image"] == "registry.example.com/platform/logistis:v0.1.0"
    collector(custom)["image"] = collector(base)["image"]
    assert custom == base


@pytest.mark.parametrize("variant", VARIANTS)
def test_only_the_webhook_port_is_reachable_and_not_from_pods(variant: str) -> None:
    objects = render(VARIANTS[variant])
    policy = find(objects, "NetworkPolicy")
    pod_labels = workload(objects)["spec"]["template"]["metadata"]["labels"]
    assert policy["spec"]["podSelector"]["matchLabels"].items() <= pod_labels.items()
    assert policy["spec"]["policyTypes"] == ["Ingress"]
    (rule,) = policy["spec"]["ingress"]
    (port,) = rule["ports"]
    assert port_number(collector(objects), port["port"]) == WEBHOOK_PORT
    # Every source is a block with the pod network carved out; no podSelector admits pods.
    assert rule["from"]
    for source in rule["from"]:
        assert source.keys() == {"ipBlock"}
        assert source["ipBlock"]["except"]


def test_the_postgres_overlay_reads_the_store_url_from_the_cloudnativepg_secret() -> None:
    objects = render(POSTGRES)
    container = collector(objects)
    (mount,) = [m for m in container["volumeMounts"] if m["name"] == "store"]
    (volume,) = [v for v in pod_spec(objects)["volumes"] if v["name"] == "store"]
    assert mount["readOnly"] is True
    assert env(container)["LOGISTIS_STORE_FILE"] == f"{mount['mountPath']}/uri"
    assert volume["secret"]["items"] == [{"key": "uri", "path": "uri"}]
    # The example cluster's operator writes exactly that Secret, in the collector's namespace.
    cluster = yaml.safe_load((POSTGRES / "cluster.example.yaml").read_text())
    assert (cluster["apiVersion"], cluster["kind"]) == ("postgresql.cnpg.io/v1", "Cluster")
    assert cluster["metadata"]["namespace"] == NAMESPACE
    assert volume["secret"]["secretName"] == f"{cluster['metadata']['name']}-app"
    # Nothing else changes: no password in the spec, the same objects as the base.
    assert not any("postgresql://" in str(v) for v in env(container).values())
    # The example cluster is a custom resource kept out of the overlay.
    assert kinds(objects) == kinds(render(BASE))


# High availability


def test_the_ha_overlay_runs_three_interchangeable_replicas_on_postgresql() -> None:
    objects = render(HA)
    deployment = find(objects, "Deployment", "logistis-collector")
    assert "StatefulSet" not in kinds(objects)
    assert deployment["spec"]["replicas"] == 3
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    spec = pod_spec(objects)
    container = collector(objects)
    settings = env(container)
    # One history (the database's URL from CloudNativePG's Secret, as the postgres overlay),
    # one redaction key: the same Secret value has one digest whichever replica recorded it.
    volumes = {v["name"]: v for v in spec["volumes"]}
    mounts = {m["name"]: m for m in container["volumeMounts"]}
    assert volumes["store"]["secret"]["secretName"] == "logistis-db-app"
    assert settings["LOGISTIS_STORE_FILE"] == f"{mounts['store']['mountPath']}/uri"
    key = volumes["redaction-key"]["secret"]
    assert key["secretName"] == "logistis-redaction-key"
    assert mounts["redaction-key"]["readOnly"] is True
    (item,) = key["items"]
    assert settings["LOGISTIS_REDACTION_KEY_FILE"] == (
        f"{mounts['redaction-key']['mountPath']}/{item['path']}"
    )
    # Nothing a pod keeps: no claim, the data dir is scratch space.
    assert "emptyDir" in volumes[mounts["data"]["name"]]
    assert not any("persistentVolumeClaim" in v for v in spec["volumes"])


def test_the_ha_overlay_stops_a_replica_only_after_it_drained() -> None:
    objects = render(HA)
    spec = pod_spec(objects)
    container = collector(objects)
    pre_stop = container["lifecycle"]["preStop"]["sleep"]["seconds"]
    drain = float(env(container)["LOGISTIS_DRAIN_SECONDS"])
    # preStop, the drain, then up to SHUTDOWN_GRACE_SECONDS for the last requests.
    assert pre_stop > 0
    assert drain > 0
    assert spec["terminationGracePeriodSeconds"] >= pre_stop + drain + SHUTDOWN_GRACE_SECONDS


def test_the_ha_overlay_spreads_replicas_and_keeps_two_through_a_disruption() -> None:
    objects = render(HA)
    pod_labels = find(objects, "Deployment")["spec"]["template"]["metadata"]["labels"]
    budget = find(objects, "PodDisruptionBudget", "logistis-collector")
    assert budget["metadata"]["namespace"] == NAMESPACE
    assert budget["spec"]["minAvailable"] == 2
    assert budget["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    (by_node,) = [
        c
        for c in pod_spec(objects)["topologySpreadConstraints"]
        if c["topologyKey"] == "kubernetes.io/hostname"
    ]
    assert by_node["maxSkew"] == 1
    assert by_node["whenUnsatisfiable"] == "DoNotSchedule"
    assert by_node["labelSelector"]["matchLabels"].items() <= pod_labels.items()

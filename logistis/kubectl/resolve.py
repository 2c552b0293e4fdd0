"""TYPE as kubectl accepts it: `deployment`, `deployments`, `deploy`, `Deployment`,
`deployment.apps`, `deployments.v1.apps`, and the kinds of custom resources.

Built-in resources and their short names come from a table; custom resources from the kinds
the collector has recorded (`/api/v1/facets`), which is the history there is to show anyway,
and, for names neither knows (a custom resource's own short names), from the cluster's
discovery API when one is reachable (`tui.blame.discovery`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from logistis.client.events import KindCount
from logistis.kubectl.errors import BlameError, ExitCode


@dataclass(frozen=True, slots=True)
class ResourceType:
    group: str
    resource: str  # the plural, lower-case resource name
    kind: str
    short_names: tuple[str, ...] = ()
    namespaced: bool | None = None  # None: not known until the collector's data says

    @property
    def qualified(self) -> str:
        """`deployments.apps`, or `pods` for the core group, as kubectl names resources."""
        return f"{self.resource}.{self.group}" if self.group else self.resource

    def names(self) -> set[str]:
        return {self.resource, self.kind.lower(), *self.short_names}


def _builtin(
    group: str, resource: str, kind: str, *short: str, namespaced: bool = True
) -> ResourceType:
    return ResourceType(group, resource, kind, short, namespaced)


BUILTIN_TYPES: tuple[ResourceType, ...] = (
    _builtin("", "pods", "Pod", "po"),
    _builtin("", "services", "Service", "svc"),
    _builtin("", "serviceaccounts", "ServiceAccount", "sa"),
    _builtin("", "configmaps", "ConfigMap", "cm"),
    _builtin("", "secrets", "Secret"),
    _builtin("", "persistentvolumeclaims", "PersistentVolumeClaim", "pvc"),
    _builtin("", "replicationcontrollers", "ReplicationController", "rc"),
    _builtin("", "endpoints", "Endpoints", "ep"),
    _builtin("", "events", "Event", "ev"),
    _builtin("", "limitranges", "LimitRange", "limits"),
    _builtin("", "resourcequotas", "ResourceQuota", "quota"),
    _builtin("", "podtemplates", "PodTemplate"),
    _builtin("", "namespaces", "Namespace", "ns", namespaced=False),
    _builtin("", "nodes", "Node", "no", namespaced=False),
    _builtin("", "persistentvolumes", "PersistentVolume", "pv", namespaced=False),
    _builtin("apps", "deployments", "Deployment", "deploy"),
    _builtin("apps", "replicasets", "ReplicaSet", "rs"),
    _builtin("apps", "statefulsets", "StatefulSet", "sts"),
    _builtin("apps", "daemonsets", "DaemonSet", "ds"),
    _builtin("apps", "controllerrevisions", "ControllerRevision"),
    _builtin("batch", "jobs", "Job"),
    _builtin("batch", "cronjobs", "CronJob", "cj"),
    _builtin("autoscaling", "horizontalpodautoscalers", "HorizontalPodAutoscaler", "hpa"),
    _builtin("networking.k8s.io", "ingresses", "Ingress", "ing"),
    _builtin("networking.k8s.io", "networkpolicies", "NetworkPolicy", "netpol"),
    _builtin("networking.k8s.io", "ingressclasses", "IngressClass", namespaced=False),
    _builtin("policy", "poddisruptionbudgets", "PodDisruptionBudget", "pdb"),
    _builtin("discovery.k8s.io", "endpointslices", "EndpointSlice"),
    _builtin("coordination.k8s.io", "leases", "Lease"),
    _builtin("events.k8s.io", "events", "Event", "ev"),
    _builtin("rbac.authorization.k8s.io", "roles", "Role"),
    _builtin("rbac.authorization.k8s.io", "rolebindings", "RoleBinding"),
    _builtin("rbac.authorization.k8s.io", "clusterroles", "ClusterRole", namespaced=False),
    _builtin(
        "rbac.authorization.k8s.io", "clusterrolebindings", "ClusterRoleBinding", namespaced=False
    ),
    _builtin("storage.k8s.io", "storageclasses", "StorageClass", "sc", namespaced=False),
    _builtin("storage.k8s.io", "csidrivers", "CSIDriver", namespaced=False),
    _builtin("storage.k8s.io", "volumeattachments", "VolumeAttachment", namespaced=False),
    _builtin("scheduling.k8s.io", "priorityclasses", "PriorityClass", "pc", namespaced=False),
    _builtin(
        "apiextensions.k8s.io",
        "customresourcedefinitions",
        "CustomResourceDefinition",
        "crd",
        "crds",
        namespaced=False,
    ),
    _builtin(
        "admissionregistration.k8s.io",
        "validatingwebhookconfigurations",
        "ValidatingWebhookConfiguration",
        namespaced=False,
    ),
    _builtin(
        "admissionregistration.k8s.io",
        "mutatingwebhookconfigurations",
        "MutatingWebhookConfiguration",
        namespaced=False,
    ),
    _builtin(
        "certificates.k8s.io",
        "certificatesigningrequests",
        "CertificateSigningRequest",
        "csr",
        namespaced=False,
    ),
    _builtin("apiregistration.k8s.io", "apiservices", "APIService", namespaced=False),
)

_VERSION = re.compile(r"^v\d+((alpha|beta)\d+)?$")


def split_type(text: str) -> tuple[str, str | None]:
    """`deployments.v1.apps` -> (`deployments`, `apps`); `deploy` -> (`deploy`, None)."""
    name, _, rest = text.strip().lower().partition(".")
    if not rest:
        return name, None
    version, _, group = rest.partition(".")
    if _VERSION.match(version) and group:
        return name, group
    return name, rest


def find(text: str, candidates: Iterable[ResourceType]) -> ResourceType | None:
    """The first candidate TYPE names, or None."""
    name, group = split_type(text)
    for candidate in candidates:
        if name in candidate.names() and group in (None, candidate.group):
            return candidate
    return None


def resolve(text: str, known: Iterable[ResourceType] = ()) -> ResourceType:
    """The resource TYPE names; `known` types are searched after the built-in table."""
    found = find(text, [*BUILTIN_TYPES, *known])
    if found is None:
        raise unknown_type(text)
    return found


def unknown_type(text: str) -> BlameError:
    return BlameError(
        f'unknown resource type "{text}": not a built-in type and never recorded by the collector',
        ExitCode.UNKNOWN_TYPE,
    )


def recorded_types(kinds: Iterable[KindCount]) -> list[ResourceType]:
    """The types of the kinds the collector has recorded; scope unknown for custom ones."""
    return [_from_recorded(kind) for kind in kinds]


def _from_recorded(kind: KindCount) -> ResourceType:
    known = next(
        (t for t in BUILTIN_TYPES if (t.group, t.resource) == (kind.group, kind.resource)), None
    )
    return known or ResourceType(kind.group, kind.resource, kind.kind)

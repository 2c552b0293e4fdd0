"""Which kind a resource holds, for requests that arrive through a subresource.

`kubectl scale` sends an `autoscaling/v1 Scale` to `deployments/scale`; the event is filed
under the Deployment, so the collector needs the kind of `apps/deployments`. Built-in
resources come from a table; custom resources are learned from the requests seen for them.
"""

from __future__ import annotations

BUILTIN_KINDS: dict[tuple[str, str], str] = {
    ("", "pods"): "Pod",
    ("", "services"): "Service",
    ("", "serviceaccounts"): "ServiceAccount",
    ("", "namespaces"): "Namespace",
    ("", "nodes"): "Node",
    ("", "configmaps"): "ConfigMap",
    ("", "secrets"): "Secret",
    ("", "persistentvolumeclaims"): "PersistentVolumeClaim",
    ("", "persistentvolumes"): "PersistentVolume",
    ("", "replicationcontrollers"): "ReplicationController",
    ("", "endpoints"): "Endpoints",
    ("apps", "deployments"): "Deployment",
    ("apps", "replicasets"): "ReplicaSet",
    ("apps", "statefulsets"): "StatefulSet",
    ("apps", "daemonsets"): "DaemonSet",
    ("batch", "jobs"): "Job",
    ("batch", "cronjobs"): "CronJob",
    ("autoscaling", "horizontalpodautoscalers"): "HorizontalPodAutoscaler",
    ("networking.k8s.io", "ingresses"): "Ingress",
    ("policy", "poddisruptionbudgets"): "PodDisruptionBudget",
    ("apiextensions.k8s.io", "customresourcedefinitions"): "CustomResourceDefinition",
    ("certificates.k8s.io", "certificatesigningrequests"): "CertificateSigningRequest",
}


class KindResolver:
    """Maps (group, resource) to the kind stored there; learns custom resources as they pass."""

    def __init__(self, learned: dict[tuple[str, str], str] | None = None) -> None:
        self._kinds = {**BUILTIN_KINDS, **(learned or {})}

    def learn(self, group: str, resource: str, kind: str) -> bool:
        """Remember a kind seen on a plain (non-subresource) request; True if it was new."""
        if self._kinds.get((group, resource)) == kind:
            return False
        self._kinds[(group, resource)] = kind
        return True

    def learned(self) -> list[tuple[str, str, str]]:
        """(group, resource, kind) of every kind beyond the built-in table."""
        return [(g, r, k) for (g, r), k in self._kinds.items() if BUILTIN_KINDS.get((g, r)) != k]

    def kind_of(self, group: str, resource: str) -> str:
        known = self._kinds.get((group, resource))
        return known if known is not None else _guess_kind(resource)


def _guess_kind(resource: str) -> str:
    """Best effort for a resource never seen directly: `widgets` -> `Widget`."""
    for plural, singular in (("ies", "y"), ("sses", "ss"), ("xes", "x"), ("s", "")):
        if resource.endswith(plural):
            resource = resource[: -len(plural)] + singular
            break
    return resource[:1].upper() + resource[1:]

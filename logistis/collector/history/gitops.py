"""What manages an object (Argo CD, Flux, Helm), what of it the tool owns, whether a later
write put a hand edit back, and the revision a GitOps tool's Application, Kustomization or
HelmRelease was applying.

Pure functions of recorded objects and change summaries, no I/O (the admission logic's
style): `collector.provenance` feeds them the history.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypedDict

from logistis.collector.history.actors import ActorRule, ConfigError, parse_rules
from logistis.collector.history.changes import compute_changes

JSONObject = dict[str, Any]
Ops = list[dict[str, str]]
MANAGING_TOOLS = ("argocd", "flux", "helm")

# Argo CD's annotation tracking (its default): `<app>:<group>/<kind>:<namespace>/<name>`, the
# app as `<app namespace>_<app>` for Applications outside Argo CD's own namespace.
ARGOCD_TRACKING_ID = "argocd.argoproj.io/tracking-id"
# Argo CD's label tracking (`application.resourceTrackingMethod: label` in argocd-cm).
ARGOCD_INSTANCE_LABEL = "app.kubernetes.io/instance"
FLUX_KUSTOMIZATION = ("kustomize.toolkit.fluxcd.io/name", "kustomize.toolkit.fluxcd.io/namespace")
FLUX_HELMRELEASE = ("helm.toolkit.fluxcd.io/name", "helm.toolkit.fluxcd.io/namespace")
HELM_RELEASE_NAME = "meta.helm.sh/release-name"
HELM_RELEASE_NAMESPACE = "meta.helm.sh/release-namespace"
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"

# The objects whose own recorded history tells the revision being applied: (group, resource).
APPLICATIONS = ("argoproj.io", "applications")
KUSTOMIZATIONS = ("kustomize.toolkit.fluxcd.io", "kustomizations")
HELMRELEASES = ("helm.toolkit.fluxcd.io", "helmreleases")
SOURCES = (APPLICATIONS, KUSTOMIZATIONS, HELMRELEASES)

# Metadata a tool owns: the labels and annotations it applied (a change or a removal of one;
# adding a new one leaves the tool's own alone). Annotations kubectl and controllers keep
# for themselves are not the tool's.
_OWNED_METADATA = ("/metadata/labels", "/metadata/annotations")
_NOT_OWNED = (
    "/metadata/annotations/kubectl.kubernetes.io~1last-applied-configuration",
    "/metadata/annotations/deployment.kubernetes.io~1revision",
)
_NOT_OWNED_TOP = ("/status", "/metadata", "/kind", "/apiVersion")


class ManagedByJSON(TypedDict):
    tool: str
    name: str
    namespace: str | None


class RevisionJSON(TypedDict):
    tool: str
    name: str
    revision: str


@dataclass(frozen=True, slots=True)
class ManagedBy:
    tool: str
    name: str
    namespace: str | None = None
    source: tuple[str, str] | None = None
    """The (group, resource) of the object whose history holds the revision, if any."""

    def to_json(self) -> ManagedByJSON:
        return {"tool": self.tool, "name": self.name, "namespace": self.namespace}


@dataclass(frozen=True, slots=True)
class Revision:
    tool: str
    name: str
    revision: str

    def to_json(self) -> RevisionJSON:
        return {"tool": self.tool, "name": self.name, "revision": self.revision}


@dataclass(frozen=True, slots=True)
class GitOpsSettings:
    """The config file's `gitops` section."""

    actors: tuple[ActorRule, ...] = ()
    """Rules before the built-in knowledge of who is who (`gitops.actors`)."""
    argocd_instance_label: str | None = None
    """The label Argo CD tracks its resources by, when it is configured for label tracking
    (`gitops.argocd.resourceTrackingMethod: label`); None: the tracking-id annotation only."""


def parse_settings(section: Any) -> GitOpsSettings:
    """The `gitops` section of the config file."""
    if section is None:
        return GitOpsSettings()
    if not isinstance(section, Mapping):
        raise ConfigError("gitops: must be a mapping with actors and argocd")
    unknown = set(section) - {"actors", "argocd"}
    if unknown:
        raise ConfigError(f"gitops: unknown keys {sorted(unknown)}")
    argocd = section.get("argocd") or {}
    if not isinstance(argocd, Mapping) or set(argocd) - {
        "resourceTrackingMethod",
        "instanceLabelKey",
    }:
        raise ConfigError("gitops.argocd: takes resourceTrackingMethod and instanceLabelKey")
    method = argocd.get("resourceTrackingMethod", "annotation")
    if method not in ("annotation", "label", "annotation+label"):
        raise ConfigError(
            "gitops.argocd.resourceTrackingMethod: annotation, label or annotation+label"
        )
    # With annotation+label the label is informational only (Argo CD tracks by the annotation).
    label = (
        str(argocd.get("instanceLabelKey") or ARGOCD_INSTANCE_LABEL) if method == "label" else None
    )
    return GitOpsSettings(parse_rules(section.get("actors")), label)


def managed_by(obj: JSONObject | None, settings: GitOpsSettings) -> ManagedBy | None:
    """What manages the object, from the labels and annotations its tool put on it."""
    metadata = (obj or {}).get("metadata")
    if not isinstance(metadata, dict):
        return None
    labels = _strings(metadata.get("labels"))
    annotations = _strings(metadata.get("annotations"))
    return (
        _argocd_annotation(annotations.get(ARGOCD_TRACKING_ID, ""))
        or _flux(labels, FLUX_HELMRELEASE, HELMRELEASES)
        or _flux(labels, FLUX_KUSTOMIZATION, KUSTOMIZATIONS)
        or _argocd_label(labels, settings.argocd_instance_label)
        or _helm(labels, annotations)
    )


def _argocd_annotation(tracking_id: str) -> ManagedBy | None:
    app, _, rest = tracking_id.partition(":")
    if not app or not rest:
        return None
    namespace, _, name = app.rpartition("_")
    return ManagedBy("argocd", name, namespace or None, APPLICATIONS)


def _argocd_label(labels: dict[str, str], key: str | None) -> ManagedBy | None:
    name = labels.get(key, "") if key else ""
    return ManagedBy("argocd", name, None, APPLICATIONS) if name else None


def _flux(
    labels: dict[str, str], keys: tuple[str, str], source: tuple[str, str]
) -> ManagedBy | None:
    name = labels.get(keys[0], "")
    return ManagedBy("flux", name, labels.get(keys[1]) or None, source) if name else None


def _helm(labels: dict[str, str], annotations: dict[str, str]) -> ManagedBy | None:
    release = annotations.get(HELM_RELEASE_NAME, "")
    if not release or labels.get(MANAGED_BY_LABEL) != "Helm":
        return None
    return ManagedBy("helm", release, annotations.get(HELM_RELEASE_NAMESPACE) or None)


def owned_paths(changes: Ops) -> list[str]:
    """The changed paths that are the managing tool's: spec, data and every other part of the
    object but its status and server-set metadata, and the labels and annotations it applied."""
    return [change["path"] for change in changes if _owned(change)]


def _owned(change: dict[str, str]) -> bool:
    path = change["path"]
    if path.startswith(_NOT_OWNED):
        return False
    if any(_under(path, p) for p in _OWNED_METADATA):
        return change["op"] != "add"
    return path != "" and not any(_under(path, p) for p in _NOT_OWNED_TOP)


def puts_back(
    edited_operation: str,
    edited_old: JSONObject | None,
    paths: list[str],
    later_operation: str,
    later_new: JSONObject | None,
) -> bool:
    """Whether a later write left the hand-edited paths as they were before the hand edit (a
    deleted object: created again)."""
    if edited_operation == "DELETE":
        return later_operation == "CREATE"
    if edited_old is None or later_new is None:
        return False
    if edited_old.get("kind") != later_new.get("kind"):
        # A Scale shares only its replica count with its parent.
        return bool(_replicas(edited_old) == _replicas(later_new))
    differing = [op["path"] for op in compute_changes("UPDATE", edited_old, later_new)]
    return not any(_under(p, o) or _under(o, p) for p in paths for o in differing)


def revision_of(source: JSONObject | None) -> str | None:
    """The revision an Application, Kustomization or HelmRelease was applying, from its status:
    the sync operation's while one runs, else the last synced, attempted or applied one."""
    status = (source or {}).get("status")
    if not isinstance(status, dict):
        return None
    operation_state = _dict(status.get("operationState"))
    history = status.get("history")
    candidates = (
        _revision(_dict(_dict(operation_state.get("operation")).get("sync"))),
        _revision(_dict(operation_state.get("syncResult"))),
        _revision(_dict(status.get("sync"))),
        _revision(_dict(history[-1])) if isinstance(history, list) and history else None,
        status.get("lastAttemptedRevision"),
        status.get("lastAppliedRevision"),
    )
    return next((c for c in candidates if isinstance(c, str) and c), None)


def _revision(part: dict[str, Any]) -> Any:
    """An Application's `revision`, or its multi-source `revisions` joined by commas."""
    revisions = part.get("revisions")
    if isinstance(revisions, list) and all(isinstance(r, str) for r in revisions):
        return part.get("revision") or ",".join(revisions)
    return part.get("revision")


def _under(path: str, parent: str) -> bool:
    return path == parent or path.startswith(parent + "/")


def _replicas(obj: JSONObject) -> Any:
    return _dict(obj.get("spec")).get("replicas")


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _strings(value: Any) -> dict[str, str]:
    return {k: v for k, v in value.items() if isinstance(v, str)} if isinstance(value, dict) else {}

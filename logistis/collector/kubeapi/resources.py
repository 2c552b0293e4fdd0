"""The one table of what the Kubernetes API serves: discovery, OpenAPI and routing read it."""

from __future__ import annotations

from dataclasses import dataclass

GROUP = "logistis.io"
VERSION = "v1alpha1"
GROUP_VERSION = f"{GROUP}/{VERSION}"
VERBS = ("get", "list", "watch")


@dataclass(frozen=True, slots=True)
class Resource:
    plural: str
    singular: str
    kind: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    description: str = ""
    verbs: tuple[str, ...] = VERBS

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"


CHANGES = Resource(
    plural="changes",
    singular="change",
    kind="Change",
    namespaced=True,
    short_names=("chg",),
    description="A recorded write to a namespaced object: who changed what, when and how.",
)
CLUSTER_CHANGES = Resource(
    plural="clusterchanges",
    singular="clusterchange",
    kind="ClusterChange",
    namespaced=False,
    short_names=("cchg",),
    description="A recorded write to a cluster-scoped object: who changed what, when and how.",
)
BLIND_SPOTS = Resource(
    plural="blindspots",
    singular="blindspot",
    kind="BlindSpot",
    namespaced=False,
    description=(
        "A period when no collector was recording: writes admitted then are missing from the "
        "history (the webhook fails open)."
    ),
    verbs=("get", "list"),
)
CHANGE_RESOURCES = (CHANGES, CLUSTER_CHANGES)
RESOURCES = (*CHANGE_RESOURCES, BLIND_SPOTS)

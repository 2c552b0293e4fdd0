"""How an object is named in the output: the original plugin's `team-a/Deployment/nginx`, or
kubectl's `deployment.apps/nginx` (with `-n team-a` where the namespace is not a column)."""

from __future__ import annotations

from dataclasses import dataclass

from logistis.client.diff import field_path
from logistis.client.events import Event
from logistis.kubectl.options import Dialect


def original_key(event: Event) -> str:
    """`team-a/Deployment/nginx`, or `ClusterRole/admin` for a cluster-scoped object."""
    key = f"{event.kind}/{event.name}"
    return f"{event.namespace}/{key}" if event.namespace else key


def kubectl_name(event: Event) -> str:
    """`deployment.apps/nginx`, `pod/web-1`: what `kubectl get -o name` prints."""
    return object_name(event.kind, event.resource.group, event.name)


def object_name(kind: str, group: str, name: str) -> str:
    """An object by kind, group and name as `kubectl get -o name` prints it."""
    return f"{kind.lower()}.{group}/{name}" if group else f"{kind.lower()}/{name}"


@dataclass(frozen=True, slots=True)
class Naming:
    dialect: Dialect = Dialect.ORIGINAL
    namespace_column: bool = False  # kubectl's NAMESPACE column, when a list spans namespaces

    @property
    def kubectl(self) -> bool:
        return self.dialect is Dialect.KUBECTL

    def key(self, event: Event) -> str:
        """The object in a table's key column."""
        return kubectl_name(event) if self.kubectl else original_key(event)

    def title(self, event: Event) -> str:
        """The object in a line of its own: a heading, a message."""
        if not self.kubectl:
            return original_key(event)
        where = f" -n {event.namespace}" if event.namespace else ""
        return f"{kubectl_name(event)}{where}"

    def path(self, pointer: str) -> str:
        """A changed field: the JSON pointer the collector gives, or a path without escapes."""
        return field_path(pointer) if self.kubectl else pointer

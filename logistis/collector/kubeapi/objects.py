"""Events as Kubernetes objects: `Change`/`ClusterChange` and their lists.

`metadata.name` and `metadata.resourceVersion` are the event id, `metadata.creationTimestamp`
the event time; the event summary of /api/v1/events sits under `event`, and a single GET adds
the `object` and `oldObject` as recorded (Secret values redacted before they were stored).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from logistis.collector.history.events import Event
from logistis.collector.kubeapi.resources import GROUP_VERSION, Resource

KubeObject = dict[str, Any]


def metadata(event: Event) -> KubeObject:
    meta: KubeObject = {
        "name": str(event.id),
        "creationTimestamp": timestamp(event.time),
        "resourceVersion": str(event.id),
    }
    if event.namespace:
        meta["namespace"] = event.namespace
    return meta


def change(resource: Resource, event: Event, *, detail: bool = False) -> KubeObject:
    body: KubeObject = {
        "apiVersion": GROUP_VERSION,
        "kind": resource.kind,
        "metadata": metadata(event),
        "event": event.summary(),
    }
    if detail:
        body["object"] = event.object
        body["oldObject"] = event.old_object
    return body


def change_list(resource: Resource, events: list[Event], list_meta: KubeObject) -> KubeObject:
    return {
        "apiVersion": GROUP_VERSION,
        "kind": resource.list_kind,
        "metadata": list_meta,
        "items": [change(resource, e) for e in events],
    }


def timestamp(moment: datetime) -> str:
    """metav1.Time: RFC 3339 in whole seconds."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

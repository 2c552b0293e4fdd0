"""`-o json` and `-o yaml`: data for scripts, in the collector API's own shapes (docs/api.md)."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from logistis.client.diff import to_yaml
from logistis.client.events import Actor, Event, ManagedBy, NamespaceSummary, Revision
from logistis.client.timeparse import format_precise, format_time
from logistis.kubectl.options import Output


def event_json(event: Event) -> dict[str, Any]:
    """The event as the collector sent it: the summary, plus the objects when fetched in full."""
    body: dict[str, Any] = {
        "id": event.id,
        "uid": event.uid,
        "time": format_precise(event.time),
        "operation": event.operation,
        "dryRun": event.dry_run,
        "user": {
            "username": event.user.username,
            "uid": event.user.uid,
            "groups": list(event.user.groups),
            "extra": {key: list(values) for key, values in event.user.extra.items()},
        },
        "resource": {
            "group": event.resource.group,
            "version": event.resource.version,
            "kind": event.resource.kind,
            "resource": event.resource.resource,
            "subresource": event.resource.subresource,
        },
        "namespace": event.namespace,
        "name": event.name,
        "fieldManager": event.field_manager,
        "changes": event.changes_json(),
        "continuity": event.continuity,
        "unrecordedChanges": [change.to_json() for change in event.unrecorded],
        "applied": event.applied,
        "actor": _asdict(event.actor),
        "managedBy": _asdict(event.managed_by),
        "handEdit": event.hand_edit,
        "revertedBy": event.reverted_by,
        "reverts": list(event.reverts),
        "revision": _asdict(event.revision),
    }
    if event.full:
        body |= {"object": event.object, "oldObject": event.old_object, "options": event.options}
    return body


def _asdict(value: Actor | ManagedBy | Revision | None) -> dict[str, Any] | None:
    return asdict(value) if value is not None else None


def namespace_json(summary: NamespaceSummary) -> dict[str, Any]:
    return {
        "namespace": summary.namespace,
        "count": summary.count,
        "lastTime": format_time(summary.last_time) if summary.last_time else None,
        "lastUser": summary.last_user,
        "kinds": [
            {"group": k.group, "kind": k.kind, "resource": k.resource, "count": k.count}
            for k in summary.kinds
        ],
    }


def dump(data: Any, output: Output, *, compact: bool = False) -> str:
    """YAML for `-o yaml`, else JSON: indented, or on one line when `compact` (`-o patch`)."""
    if output is Output.YAML:
        return to_yaml(data).rstrip("\n")
    if compact:
        return json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    return json.dumps(data, indent=2, ensure_ascii=False)

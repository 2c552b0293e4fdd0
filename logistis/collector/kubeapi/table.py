"""`kubectl get`'s view: a `meta.k8s.io` Table of changes, when the Accept header asks for one.

kubectl asks with `Accept: application/json;as=Table;v=v1;g=meta.k8s.io, ...;v=v1beta1...,
application/json`: the first Table version offered is served; otherwise plain JSON.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from logistis.collector.history.events import OPERATIONS, Event
from logistis.collector.kubeapi.objects import KubeObject, change, metadata
from logistis.collector.kubeapi.resources import Resource
from logistis.collector.kubeapi.status import StatusError

TABLE_VERSIONS = ("v1", "v1beta1")
INCLUDE_OBJECT = ("None", "Metadata", "Object")
Column = tuple[str, str, str, int, str]
# Changes listed in the CHANGES cell before "+N more".
SHOWN_CHANGES = 3

# name, type, format, priority (1: only with -o wide), description
COLUMNS: tuple[Column, ...] = (
    ("Name", "string", "name", 0, "The event id."),
    ("Age", "string", "", 0, "Time since the change was admitted."),
    ("Operation", "string", "", 0, f"{', '.join(OPERATIONS[:-1])} or {OPERATIONS[-1]}."),
    ("User", "string", "", 0, "Who made the change."),
    ("Kind", "string", "", 0, "Kind of the changed object."),
    ("Object", "string", "", 0, "Name of the changed object (and the subresource written)."),
    ("Changes", "string", "", 0, "The JSON paths that changed."),
    ("Group", "string", "", 1, "API group of the changed object."),
    ("Field Manager", "string", "", 1, "The client's field manager."),
    ("Groups", "string", "", 1, "The user's groups."),
)


def accepted_table_version(accept: str) -> str | None:
    """The Table version the client asks for first, or None for plain JSON."""
    for item in accept.split(","):
        media, *params = (part.strip() for part in item.split(";"))
        options = dict(p.partition("=")[::2] for p in params)
        if (
            media == "application/json"
            and options.get("as") == "Table"
            and options.get("g") == "meta.k8s.io"
            and options.get("v") in TABLE_VERSIONS
        ):
            return options["v"]
    return None


def include_object(raw: str | None) -> str:
    if raw is None or raw == "":
        return "Metadata"
    if raw not in INCLUDE_OBJECT:
        raise StatusError(400, f"includeObject must be one of {', '.join(INCLUDE_OBJECT)}")
    return raw


def table(
    version: str,
    resource: Resource,
    events: list[Event],
    *,
    include: str = "Metadata",
    list_meta: KubeObject | None = None,
    now: datetime | None = None,
) -> KubeObject:
    now = now or datetime.now(UTC)
    rows = [
        row(version, cells(e, now), include, metadata(e), partial(change, resource, e))
        for e in events
    ]
    return frame(version, COLUMNS, rows, list_meta)


def frame(
    version: str, columns: tuple[Column, ...], rows: list[KubeObject], list_meta: KubeObject | None
) -> KubeObject:
    """The Table around its rows; `columns` as (name, type, format, priority, description)."""
    return {
        "kind": "Table",
        "apiVersion": f"meta.k8s.io/{version}",
        "metadata": list_meta or {},
        "columnDefinitions": [
            {"name": n, "type": t, "format": f, "description": d, "priority": p}
            for n, t, f, p, d in columns
        ],
        "rows": rows,
    }


def row(
    version: str,
    cells: list[Any],
    include: str,
    meta: KubeObject,
    whole: Callable[[], KubeObject],
) -> KubeObject:
    """One row: its cells, and its object as `includeObject` asks (None, Metadata, Object)."""
    built: KubeObject = {"cells": cells}
    if include == "Metadata":
        built["object"] = {
            "kind": "PartialObjectMetadata",
            "apiVersion": f"meta.k8s.io/{version}",
            "metadata": meta,
        }
    elif include == "Object":
        built["object"] = whole()
    return built


def cells(event: Event, now: datetime) -> list[Any]:
    target = event.name + (f"/{event.resource.subresource}" if event.resource.subresource else "")
    return [
        str(event.id),
        human_duration(now - event.time),
        event.operation,
        event.user.username,
        event.resource.kind,
        target,
        _changes(event.changes),
        event.resource.group or "core",
        event.field_manager,
        ",".join(event.user.groups),
    ]


def _changes(changes: list[dict[str, str]]) -> str:
    paths = [c.get("path", "") for c in changes]
    shown = ", ".join(paths[:SHOWN_CHANGES])
    hidden = len(paths) - SHOWN_CHANGES
    return f"{shown} (+{hidden} more)" if hidden > 0 else shown


def human_duration(elapsed: timedelta) -> str:
    """kubectl's AGE format (k8s.io/apimachinery/pkg/util/duration.HumanDuration)."""
    seconds = max(0, int(elapsed.total_seconds()))
    minutes, hours, days = seconds // 60, seconds // 3600, seconds // 86400
    if seconds < 120:
        return f"{seconds}s"
    if minutes < 10:
        rest = seconds % 60
        return f"{minutes}m{rest}s" if rest else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    if hours < 8:
        rest = minutes % 60
        return f"{hours}h{rest}m" if rest else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        rest = hours % 24
        return f"{days}d{rest}h" if rest else f"{days}d"
    if hours < 24 * 365 * 2:
        return f"{days}d"
    years = days // 365
    if hours < 24 * 365 * 8:
        rest = days % 365
        return f"{years}y{rest}d" if rest else f"{years}y"
    return f"{years}y"

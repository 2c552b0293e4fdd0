"""OpenAPI v2 (`/openapi/v2`) and v3 (`/openapi/v3`) documents of the group, from the
resource table: the aggregator merges them into the apiserver's, and `kubectl explain changes`
reads them."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from functools import cache
from typing import Any

import orjson

from logistis.collector.kubeapi.resources import (
    BLIND_SPOTS,
    CHANGE_RESOURCES,
    GROUP,
    GROUP_VERSION,
    VERSION,
    Resource,
)

Schema = dict[str, Any]
Ref = Callable[[str], Schema]

META = "io.k8s.apimachinery.pkg.apis.meta.v1"
OURS = "io.logistis." + VERSION
V3_PATH = f"apis/{GROUP_VERSION}"

_STRING: Schema = {"type": "string"}
_STRINGS: Schema = {"type": "array", "items": _STRING}
_ANY_OBJECT: Schema = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}


_NULLABLE: dict[str, Any] = {"x-nullable": True}


def _object(properties: dict[str, Schema], description: str = "", **more: Any) -> Schema:
    schema: Schema = {"type": "object", "properties": properties, **more}
    if description:
        schema["description"] = description
    return schema


def _gvk(kind: str, group: str = GROUP, version: str = VERSION) -> Schema:
    return {"x-kubernetes-group-version-kind": [{"group": group, "version": version, "kind": kind}]}


def _schemas(ref: Ref) -> dict[str, Schema]:
    event = _object(
        {
            "id": {"type": "integer", "format": "int64"},
            "uid": _STRING,
            "time": {"type": "string", "format": "date-time"},
            "operation": _STRING,
            "dryRun": {"type": "boolean"},
            "user": _object(
                {
                    "username": _STRING,
                    "uid": _STRING,
                    "groups": _STRINGS,
                    "extra": {"type": "object", "additionalProperties": _STRINGS},
                }
            ),
            "resource": _object(
                {k: _STRING for k in ("group", "version", "kind", "resource", "subresource")}
            ),
            "namespace": _STRING,
            "name": _STRING,
            "fieldManager": _STRING,
            "changes": {
                "type": "array",
                "items": _object({"op": _STRING, "path": _STRING}),
            },
            # Whether the history around the event is whole (docs/trust.md).
            "continuity": {**_STRING, "x-nullable": True},
            "unrecordedChanges": {
                "type": "array",
                "items": _object({"op": _STRING, "path": _STRING}),
            },
            "applied": {"type": "boolean", "x-nullable": True},
            # Who acted and what manages the object (docs/api.md).
            "actor": _object({"kind": _STRING, "tool": {**_STRING, "x-nullable": True}}),
            "managedBy": _object(
                {"tool": _STRING, "name": _STRING, "namespace": {**_STRING, "x-nullable": True}},
                **_NULLABLE,
            ),
            "handEdit": {"type": "boolean"},
            "revertedBy": {"type": "integer", "format": "int64", "x-nullable": True},
            "reverts": {"type": "array", "items": {"type": "integer", "format": "int64"}},
            "revision": _object(
                {"tool": _STRING, "name": _STRING, "revision": _STRING}, **_NULLABLE
            ),
        },
        "The event summary of /api/v1/events: who, what, when, and the paths that changed.",
    )
    schemas: dict[str, Schema] = {
        f"{OURS}.Event": event,
        f"{META}.ObjectMeta": _object(
            {
                "name": _STRING,
                "namespace": _STRING,
                "creationTimestamp": {"type": "string", "format": "date-time"},
                "resourceVersion": _STRING,
            }
        ),
        f"{META}.ListMeta": _object(
            {
                "resourceVersion": _STRING,
                "continue": _STRING,
                "remainingItemCount": {"type": "integer", "format": "int64"},
            }
        ),
        f"{META}.Status": _object(
            {
                "apiVersion": _STRING,
                "kind": _STRING,
                "metadata": ref(f"{META}.ListMeta"),
                "status": _STRING,
                "message": _STRING,
                "reason": _STRING,
                "code": {"type": "integer", "format": "int32"},
                "details": _ANY_OBJECT,
            },
            **_gvk("Status", "", "v1"),
        ),
        f"{META}.WatchEvent": _object(
            {"type": _STRING, "object": _ANY_OBJECT}, required=["type", "object"]
        ),
    }
    for resource in CHANGE_RESOURCES:
        schemas[f"{OURS}.{resource.kind}"] = _object(
            {
                "apiVersion": _STRING,
                "kind": _STRING,
                "metadata": ref(f"{META}.ObjectMeta"),
                "event": ref(f"{OURS}.Event"),
                "object": {**_ANY_OBJECT, "description": "The object as admitted (GET only)."},
                "oldObject": {**_ANY_OBJECT, "description": "The object before (GET only)."},
            },
            resource.description,
            **_gvk(resource.kind),
        )
        schemas[f"{OURS}.{resource.list_kind}"] = _list(ref, resource, "newest first")
    schemas[f"{OURS}.{BLIND_SPOTS.kind}"] = _object(
        {
            "apiVersion": _STRING,
            "kind": _STRING,
            "metadata": ref(f"{META}.ObjectMeta"),
            "start": {"type": "string", "format": "date-time"},
            "end": {"type": "string", "format": "date-time", "x-nullable": True},
            "seconds": {"type": "number", "format": "double"},
            "cause": {**_STRING, "description": "stopped, lost or silent"},
        },
        BLIND_SPOTS.description,
        **_gvk(BLIND_SPOTS.kind),
    )
    schemas[f"{OURS}.{BLIND_SPOTS.list_kind}"] = _list(ref, BLIND_SPOTS, "oldest first")
    return schemas


def _list(ref: Ref, resource: Resource, order: str) -> Schema:
    return _object(
        {
            "apiVersion": _STRING,
            "kind": _STRING,
            "metadata": ref(f"{META}.ListMeta"),
            "items": {"type": "array", "items": ref(f"{OURS}.{resource.kind}")},
        },
        f"A page of {resource.plural}, {order}.",
        required=["items"],
        **_gvk(resource.list_kind),
    )


# name, location, type, description
_NAMESPACE = (
    "namespace",
    "path",
    "string",
    "object name and auth scope, such as for teams and projects",
)
_NAME = ("name", "path", "string", "the event id")
_WINDOW = (
    ("since", "query", "string", "RFC 3339 time or a duration back from now (15m, 2h, 7d)"),
    ("until", "query", "string", "RFC 3339 time or a duration back from now"),
)
_LIST = (
    ("limit", "query", "integer", "most items per page (at most 1000)"),
    ("continue", "query", "string", "the continue token of the previous page"),
    (
        "fieldSelector",
        "query",
        "string",
        "user, kind, group, name, operation, actor, tool, handEdit, managedBy (=, ==),"
        " metadata.name, metadata.namespace",
    ),
    (
        "labelSelector",
        "query",
        "string",
        "changes carry no labels: only an empty selector is accepted",
    ),
    ("resourceVersion", "query", "string", "watch: the event id to start after"),
    ("resourceVersionMatch", "query", "string", "accepted and ignored: events never change"),
    ("watch", "query", "boolean", "stream ADDED events after resourceVersion"),
    ("allowWatchBookmarks", "query", "boolean", "send BOOKMARK events while quiet"),
    ("timeoutSeconds", "query", "integer", "end the watch after this long"),
    ("q", "query", "string", "text in user, namespace, name, kind or field manager"),
    *_WINDOW,
    ("people", "query", "boolean", "leave out system:* users"),
)

_SPOT_NAME = ("name", "path", "string", "the start of the blind spot, in Unix milliseconds")
_SPOTS_LIST = (
    *_WINDOW,
    ("limit", "query", "integer", "accepted and not applied: the list is served whole"),
)


def _paths(ref: Ref, parameter: Callable[[tuple[str, str, str, str]], Schema]) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for resource in CHANGE_RESOURCES:
        kind, plural = resource.kind, resource.plural
        scopes = [
            ("Namespaced", f"/apis/{GROUP_VERSION}/namespaces/{{namespace}}/{plural}", [_NAMESPACE])
        ]
        if resource.namespaced:
            scopes.append(("ForAllNamespaces", f"/apis/{GROUP_VERSION}/{plural}", []))
        else:
            scopes = [("", f"/apis/{GROUP_VERSION}/{plural}", [])]
        for scope, path, fixed in scopes:
            paths[path] = _operation(
                f"list{kind}{scope}",
                "list",
                resource,
                ref(f"{OURS}.{resource.list_kind}"),
                [parameter(p) for p in (*fixed, *_LIST)],
            )
        item_path = scopes[0][1] + "/{name}"
        item_fixed = [_NAMESPACE] if resource.namespaced else []
        paths[item_path] = _operation(
            f"read{kind}",
            "get",
            resource,
            ref(f"{OURS}.{kind}"),
            [parameter(p) for p in (*item_fixed, _NAME)],
        )
    spots = f"/apis/{GROUP_VERSION}/{BLIND_SPOTS.plural}"
    paths[spots] = _operation(
        f"list{BLIND_SPOTS.kind}",
        "list",
        BLIND_SPOTS,
        ref(f"{OURS}.{BLIND_SPOTS.list_kind}"),
        [parameter(p) for p in _SPOTS_LIST],
    )
    paths[spots + "/{name}"] = _operation(
        f"read{BLIND_SPOTS.kind}",
        "get",
        BLIND_SPOTS,
        ref(f"{OURS}.{BLIND_SPOTS.kind}"),
        [parameter(_SPOT_NAME)],
    )
    return paths


def _operation(
    operation_id: str, action: str, resource: Resource, response: Schema, parameters: list[Schema]
) -> dict[str, Any]:
    return {
        "get": {
            "operationId": operation_id + "LogistisIoV1alpha1",
            "description": f"{action} {resource.plural}",
            "tags": ["logistisIo_v1alpha1"],
            "parameters": parameters,
            "responses": {
                "200": {"description": "OK", "schema": response},
                "401": {"description": "Unauthorized"},
            },
            "x-kubernetes-action": action,
            "x-kubernetes-group-version-kind": {
                "group": GROUP,
                "version": VERSION,
                "kind": resource.kind,
            },
        }
    }


def _v2_parameter(spec: tuple[str, str, str, str]) -> Schema:
    name, location, kind, description = spec
    return {
        "name": name,
        "in": location,
        "type": kind,
        "description": description,
        "required": location == "path",
        "uniqueItems": True,
    }


def _v3_parameter(spec: tuple[str, str, str, str]) -> Schema:
    name, location, kind, description = spec
    return {
        "name": name,
        "in": location,
        "schema": {"type": kind},
        "description": description,
        "required": location == "path",
    }


def _v3_responses(paths: dict[str, Any]) -> dict[str, Any]:
    for item in paths.values():
        responses = item["get"]["responses"]
        ok = responses["200"]
        responses["200"] = {
            "description": ok["description"],
            "content": {"application/json": {"schema": ok["schema"]}},
        }
    return paths


@cache
def v2() -> bytes:
    def ref(name: str) -> Schema:
        return {"$ref": f"#/definitions/{name}"}

    return orjson.dumps(
        {
            "swagger": "2.0",
            "info": {"title": "logistis", "version": VERSION},
            "paths": _paths(ref, _v2_parameter),
            "definitions": _schemas(ref),
        }
    )


@cache
def v3() -> bytes:
    def ref(name: str) -> Schema:
        return {"$ref": f"#/components/schemas/{name}"}

    return orjson.dumps(
        {
            "openapi": "3.0.0",
            "info": {"title": "logistis", "version": VERSION},
            "paths": _v3_responses(_paths(ref, _v3_parameter)),
            "components": {"schemas": _schemas(ref)},
        }
    )


@cache
def v3_index() -> bytes:
    digest = hashlib.sha512(v3()).hexdigest().upper()
    return orjson.dumps(
        {"paths": {V3_PATH: {"serverRelativeURL": f"/openapi/v3/{V3_PATH}?hash={digest}"}}}
    )

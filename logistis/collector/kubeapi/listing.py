"""The parameters of a list or watch: Kubernetes' own (`limit`, `continue`, `fieldSelector`,
`resourceVersion`, `watch`...) and the text and time filters of /api/v1/events, turned into the
store's `EventQuery` once, here."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, replace

import orjson

from logistis.collector.kubeapi.status import StatusError
from logistis.collector.query import (
    MAX_LIMIT,
    EventQuery,
    QueryError,
    event_query,
    parse_query,
    whole_number,
)

# Field selectors and the EventQuery filter each one sets.
FIELDS = {
    "user": "user",
    "kind": "kind",
    "group": "group",
    "name": "name",
    "operation": "operation",
    # Who acted and what manages the object (collector/provenance.py).
    "actor": "actor",
    "tool": "tool",
    "handEdit": "handEdit",
    "managedBy": "managedBy",
}
EXTRA_FILTERS = ("q", "since", "until", "people")
PARAMETERS = (
    "limit",
    "continue",
    "fieldSelector",
    "labelSelector",
    "resourceVersion",
    "resourceVersionMatch",
    "watch",
    "allowWatchBookmarks",
    "timeoutSeconds",
    "includeObject",
    "pretty",
    # kubectl --request-timeout adds it; the connection's own timeout is what enforces it.
    "timeout",
    "sendInitialEvents",
    *EXTRA_FILTERS,
)
TRUE = ("1", "true")


@dataclass(frozen=True, slots=True)
class ListRequest:
    query: EventQuery
    limit: int = MAX_LIMIT
    continue_from: tuple[int, int] | None = None
    """(resource version of the first page, the id the next page starts below)."""
    event_id: int | None = None
    """`metadata.name=N`: only event N."""
    watch: bool = False
    resource_version: int | None = None
    bookmarks: bool = False
    timeout_seconds: int | None = None
    include_object: str | None = None


def parse_list(
    params: list[tuple[str, str]], namespace: str | None, namespaced: bool
) -> ListRequest:
    """`namespace` is the one of the path (None: all, or a cluster-scoped resource)."""
    try:
        grouped = parse_query(params, allowed=PARAMETERS)
        filters = {k: v for k, v in grouped.items() if k in EXTRA_FILTERS}
        event_id = _fields(_single(grouped, "fieldSelector"), filters)
        query = event_query(filters)
    except QueryError as error:
        raise StatusError(400, f"invalid parameter {error.parameter!r}: {error}") from None
    if (_single(grouped, "sendInitialEvents") or "").lower() in TRUE:
        # Clients fall back to a list and a watch from its resourceVersion.
        raise StatusError(400, "sendInitialEvents is not supported: list, then watch")
    if _single(grouped, "labelSelector"):
        raise StatusError(
            400,
            "changes carry no labels: use --field-selector (user, kind, group, name, operation,"
            " actor, tool, handEdit, managedBy)",
        )
    if namespace is not None:
        query = replace(query, namespaces=(namespace,))
    elif namespaced:
        query = replace(query, namespaced=True)
    else:
        query = replace(query, namespaces=("",))
    return ListRequest(
        query=query,
        limit=_limit(_single(grouped, "limit")),
        continue_from=_continue(_single(grouped, "continue")),
        event_id=event_id,
        watch=(_single(grouped, "watch") or "").lower() in TRUE,
        resource_version=_resource_version(_single(grouped, "resourceVersion")),
        bookmarks=(_single(grouped, "allowWatchBookmarks") or "").lower() in TRUE,
        timeout_seconds=_whole("timeoutSeconds", _single(grouped, "timeoutSeconds")),
        include_object=_single(grouped, "includeObject"),
    )


def _single(grouped: dict[str, list[str]], key: str) -> str | None:
    values = grouped.get(key)
    if not values:
        return None
    if len(values) > 1:
        raise StatusError(400, f"{key} may be given only once")
    return values[0]


def _fields(selector: str | None, filters: dict[str, list[str]]) -> int | None:
    """Adds the selector's requirements to `filters`; returns the id of `metadata.name=N`."""
    event_id = None
    for requirement in (selector or "").split(","):
        if not requirement.strip():
            continue
        field, value = _requirement(requirement)
        if field == "metadata.name":
            event_id = whole_number(value)
            if event_id is None:
                raise StatusError(400, f"metadata.name must be an event id, got {value!r}")
        elif field == "metadata.namespace":
            filters.setdefault("namespace", []).append(value)
        elif field in FIELDS:
            filters.setdefault(FIELDS[field], []).append(value)
        else:
            known = ", ".join([*FIELDS, "metadata.name", "metadata.namespace"])
            raise StatusError(400, f'field label not supported: "{field}" (supported: {known})')
    return event_id


def _requirement(text: str) -> tuple[str, str]:
    if "!=" in text:
        raise StatusError(400, f"field selector {text!r}: only = and == are supported")
    for operator in ("==", "="):
        field, found, value = text.partition(operator)
        if found:
            return field.strip(), value.strip()
    raise StatusError(400, f"field selector {text!r}: expected FIELD=VALUE")


def _limit(raw: str | None) -> int:
    if raw is None:
        return MAX_LIMIT
    limit = _whole("limit", raw)
    if not limit:
        raise StatusError(400, "limit must be a positive whole number")
    # The apiserver may return fewer than asked with a continue token: so may we.
    return min(limit, MAX_LIMIT)


def _whole(name: str, raw: str | None) -> int | None:
    if raw is None or raw == "":
        return None
    value = whole_number(raw)
    if value is None:
        raise StatusError(400, f"{name} must be a whole number, got {raw!r}")
    return value


def _resource_version(raw: str | None) -> int | None:
    value = _whole("resourceVersion", raw)
    # "0" is "any version" to a Kubernetes client: the same as none.
    return value or None


def encode_continue(resource_version: int, before_id: int) -> str:
    token = orjson.dumps({"rv": resource_version, "start": before_id})
    return base64.urlsafe_b64encode(token).decode().rstrip("=")


def _continue(raw: str | None) -> tuple[int, int] | None:
    if not raw:
        return None
    try:
        token = orjson.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
        resource_version, start = int(token["rv"]), int(token["start"])
    except (binascii.Error, orjson.JSONDecodeError, ValueError, TypeError, KeyError):
        raise StatusError(400, "continue: malformed continue token") from None
    return resource_version, start

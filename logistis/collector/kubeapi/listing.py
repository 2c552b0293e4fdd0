"""The parameters of a list or watch: Kubernetes' own (`limit`, `continue`, `fieldSelector`,
`resourceVersion`, `watch`...) and the text and time filters of /api/v1/events, turned into the
store's `EventQuery` once, here."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, replace

import orjson

from logistis.collector.edge.parameters import event_query, parse_query
from logistis.collector.history.query import MAX_ID, MAX_LIMIT, EventQuery, QueryError, whole_number
from logistis.collector.kubeapi.status import StatusError

# Field selectors and the EventQuery filter each one sets.
FIELDS = {
    "user": "user",
    "kind": "kind",
    "group": "group",
    "name": "name",
    "operation": "operation",
    # Who acted and what manages the object (collector/history/provenance.py).
    "actor": "actor",
    "tool": "tool",
    "handEdit": "handEdit",
    "managedBy": "managedBy",
}
# Field selectors of the object's own metadata: the event id, and the namespace.
SCOPE_FIELDS = ("metadata.name", "metadata.namespace")
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
# The apiserver takes this parameter as a boolean: Convert_Slice_string_To_bool
# (k8s.io/apimachinery/pkg/runtime/conversion.go).
FALSE = ("0", "false")


@dataclass(frozen=True, slots=True)
class ListRequest:
    query: EventQuery
    limit: int = MAX_LIMIT
    continue_from: tuple[int, int] | None = None
    """(resource version of the first page, the id the next page starts below)."""
    watch: bool = False
    resource_version: int | None = None
    bookmarks: bool = False
    timeout_seconds: int | None = None
    include_object: str | None = None


def parse_list(
    params: list[tuple[str, str]], namespace: str | None, namespaced: bool
) -> ListRequest:
    """`namespace` is the one of the path (None: all, or a cluster-scoped resource).

    The apiserver authorizes the request on its own reading of these parameters (the verb
    `watch` or `list`, a `resourceNames` entry from `metadata.name`) before proxying it: each
    is read here exactly as it reads it, so nothing is served beyond what it authorized.
    """
    try:
        grouped = parse_query(params, allowed=PARAMETERS)
        filters = {k: v for k, v in grouped.items() if k in EXTRA_FILTERS}
        selected = _fields(_single(grouped, "fieldSelector"), filters)
        query = event_query(filters)
    except QueryError as error:
        raise StatusError(400, f"invalid parameter {error.parameter!r}: {error}") from None
    if kube_boolean(_single(grouped, "sendInitialEvents")):
        # Clients fall back to a list and a watch from its resourceVersion.
        raise StatusError(400, "sendInitialEvents is not supported: list, then watch")
    if _single(grouped, "labelSelector"):
        raise StatusError(
            400,
            "changes carry no labels: use --field-selector (user, kind, group, name, operation,"
            " actor, tool, handEdit, managedBy)",
        )
    return ListRequest(
        query=replace(
            _scope(query, namespace, selected.get("metadata.namespace"), namespaced),
            event_id=_event_id(selected.get("metadata.name")),
        ),
        limit=_limit(_single(grouped, "limit")),
        continue_from=_continue(_single(grouped, "continue")),
        watch=kube_boolean(_single(grouped, "watch")),
        resource_version=_resource_version(_single(grouped, "resourceVersion")),
        bookmarks=kube_boolean(_single(grouped, "allowWatchBookmarks")),
        timeout_seconds=_whole("timeoutSeconds", _single(grouped, "timeoutSeconds")),
        include_object=_single(grouped, "includeObject"),
    )


def kube_boolean(raw: str | None) -> bool:
    """As the apiserver reads a boolean parameter: absent, `0` and `false` (any case) are
    false; anything else, the empty string too, is true."""
    return raw is not None and raw.lower() not in FALSE


def _single(grouped: dict[str, list[str]], key: str) -> str | None:
    values = grouped.get(key)
    if not values:
        return None
    if len(values) > 1:
        raise StatusError(400, f"{key} may be given only once")
    return values[0]


def _fields(selector: str | None, filters: dict[str, list[str]]) -> dict[str, str]:
    """Adds the selector's filter terms to `filters`; returns the value of each term."""
    selected: dict[str, str] = {}
    for field, value in selector_terms(selector or ""):
        if selected.setdefault(field, value) != value:
            # The apiserver authorized one of them (a `resourceNames` entry for a name):
            # answering for the other would serve what it did not authorize.
            raise StatusError(
                400, f"field selector: two values of {field}, {selected[field]!r} and {value!r}"
            )
        if field in FIELDS:
            filters[FIELDS[field]] = [value]
        elif field not in SCOPE_FIELDS:
            known = ", ".join([*FIELDS, *SCOPE_FIELDS])
            raise StatusError(400, f'field label not supported: "{field}" (supported: {known})')
    return selected


def selector_terms(selector: str) -> list[tuple[str, str]]:
    """The (field, value) of each term, split and unescaped as fields.ParseSelector does
    (k8s.io/apimachinery/pkg/fields/selector.go): `,` separates terms unless escaped, the
    field ends at the first operator, nothing is trimmed, and a value escapes `\\`, `,` and `=`
    with a backslash."""
    terms = []
    for term in _split_terms(selector):
        if not term:
            continue
        field, operator, value = _split_term(term)
        if operator == "!=":
            raise StatusError(400, f"field selector {term!r}: only = and == are supported")
        terms.append((field, _unescape(term, value)))
    return terms


def _split_terms(selector: str) -> list[str]:
    terms, start, escaped = [], 0, False
    for index, character in enumerate(selector):
        if escaped:
            escaped = False
        elif character == "\\":
            escaped = True
        elif character == ",":
            terms.append(selector[start:index])
            start = index + 1
    terms.append(selector[start:])
    return terms


def _split_term(term: str) -> tuple[str, str, str]:
    for index in range(len(term)):
        for operator in ("!=", "==", "="):
            if term.startswith(operator, index):
                return term[:index], operator, term[index + len(operator) :]
    raise StatusError(400, f"field selector {term!r}: expected FIELD=VALUE")


def _unescape(term: str, value: str) -> str:
    unescaped, escaped = [], False
    for character in value:
        if escaped:
            if character not in "\\,=":
                raise StatusError(400, f"field selector {term!r}: invalid escape \\{character}")
            escaped = False
        elif character == "\\":
            escaped = True
            continue
        elif character in ",=":
            raise StatusError(400, f"field selector {term!r}: escape {character} as \\{character}")
        unescaped.append(character)
    if escaped:
        raise StatusError(400, f"field selector {term!r}: a value cannot end with \\")
    return "".join(unescaped)


def _event_id(name: str | None) -> int | None:
    if name is None:
        return None
    event_id = whole_number(name)
    if event_id is None:
        raise StatusError(400, f"metadata.name must be an event id, got {name!r}")
    return event_id


def _scope(
    query: EventQuery, path: str | None, selected: str | None, namespaced: bool
) -> EventQuery:
    """The query within the path's namespace (`path`; None: every namespace) and within a
    `metadata.namespace` term (`selected`): both applied."""
    scope = path if namespaced else ""
    if selected is not None:
        if scope is None and selected:
            scope = selected
        elif selected != scope:
            held = {None: "namespaced", "": "cluster-scoped"}.get(scope, f"in namespace {scope}")
            raise StatusError(
                400, f"field selector metadata.namespace={selected}: these changes are {held}"
            )
    if scope is None:
        return replace(query, namespaced=True)
    return replace(query, namespaces=(scope,))


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
    malformed = "continue: malformed continue token"
    try:
        token = orjson.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
        resource_version, start = token["rv"], token["start"]
    except (binascii.Error, orjson.JSONDecodeError, ValueError, TypeError, KeyError):
        raise StatusError(400, malformed) from None
    # Only ids the store can compare: past 2**63 - 1 it raises instead of matching nothing.
    if not all(type(n) is int and 0 <= n <= MAX_ID for n in (resource_version, start)):
        raise StatusError(400, malformed)
    return resource_version, start

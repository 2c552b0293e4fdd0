"""The history through the cluster's own Kubernetes API (`logistis.io/v1alpha1`).

With the APIService installed, the apiserver authenticates the user with their kubeconfig
credentials (token, client certificate, exec plugin, OIDC) and RBAC decides per namespace
what they read; no port-forward. `KubeAPIClient` answers the same calls as the collector's
own API, mapped onto `changes` and `clusterchanges`:

- a list is a Kubernetes list (`fieldSelector` for user, kind, group, name, operation,
  actor, tool, handEdit, managedBy;
  `q`, `since`, `until`, `people` as extra parameters; `continue` as the cursor);
  "every namespace" means every namespaced change, cluster-scoped ones are `namespace=""`;
- the live stream is a watch from the last event seen (`resourceVersion`);
- namespaces and facets are counted from the newest SAMPLE changes each namespace lets the
  user list (totals are exact: the first page says how many remain).

A 403 becomes one line naming the right that is missing.
"""

from __future__ import annotations

import asyncio
import functools
import json
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any

import httpx

from logistis.client.events import (
    BlindSpot,
    Event,
    EventFilter,
    Facets,
    JSONObject,
    KindCount,
    MalformedEvent,
    NamespaceSummary,
    ValueCount,
)
from logistis.client.http import Check, Connection
from logistis.client.insights import Insights
from logistis.client.protocol import (
    CollectorError,
    CollectorHTTPError,
    CollectorUnreachable,
    HistoryClient,
    Page,
)

GROUP = "logistis.io"
API = f"/apis/{GROUP}/v1alpha1"
# Changes a namespace summary or a facet is counted from.
SAMPLE = 1000
# Namespaces asked about at once when finding the readable ones.
PARALLEL = 8
FIELD_SELECTORS = (
    "user",
    "kind",
    "group",
    "name",
    "operation",
    "actor",
    "tool",
    "handEdit",
    "managedBy",
)
EXTRA = ("people", "since", "until", "q")


class KubeAPIError(CollectorHTTPError):
    """The apiserver refused or failed a request; the message says what to do about it."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(status, message, line=message)


async def served(http: httpx.AsyncClient) -> bool:
    """Whether the cluster serves the history (the APIService is installed and answers)."""
    try:
        response = await http.get(API)
    except httpx.TransportError as error:
        raise CollectorUnreachable(
            f"cannot reach the cluster at {http.base_url}: {error}"
        ) from error
    if response.status_code == 401:
        raise KubeAPIError(401, "the cluster does not accept the kubeconfig's credentials")
    if response.status_code != 200:
        return False
    try:
        resources = {r.get("name") for r in response.json().get("resources", ())}
    except (ValueError, AttributeError):
        return False
    return "changes" in resources


def _path(namespace: str | None, name: str | None = None) -> str:
    if namespace == "":
        path = f"{API}/clusterchanges"
    elif namespace is None:
        path = f"{API}/changes"
    else:
        path = f"{API}/namespaces/{namespace}/changes"
    return f"{path}/{name}" if name is not None else path


def _escaped(value: str) -> str:
    """A field selector's value as the apiserver reads it (fields.EscapeValue): a comma or an
    equals sign in a user name is part of the value, not the end of the term."""
    return value.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=")


def _params(filter: EventFilter) -> list[tuple[str, str]]:
    given = dict(filter.to_params())
    selector = ",".join(f"{k}={_escaped(given[k])}" for k in FIELD_SELECTORS if k in given)
    params = [(k, given[k]) for k in EXTRA if k in given]
    return [("fieldSelector", selector), *params] if selector else params


def _resource(namespace: str | None) -> str:
    return "clusterchanges" if namespace == "" else "changes"


def _where(namespace: str | None) -> str:
    if namespace == "":
        return "for the cluster"
    return "in every namespace" if namespace is None else f"in namespace {namespace}"


def _event(item: Any) -> Event:
    try:
        data = dict(item["event"])
        if "object" in item or "oldObject" in item:
            data["object"], data["oldObject"] = item.get("object"), item.get("oldObject")
        return Event.from_json(data)
    except (MalformedEvent, KeyError, TypeError, ValueError) as error:
        raise _unexpected(error) from error


class KubeAPIClient(HistoryClient):
    """The collector's calls, answered by the cluster's Kubernetes API under RBAC."""

    def __init__(self, http: httpx.AsyncClient, *, default_namespace: str | None = None) -> None:
        self._connection = Connection(http)
        self._default_namespace = default_namespace

    async def aclose(self) -> None:
        await self._connection.aclose()

    async def recover(self) -> None:
        """Nothing to do: the apiserver's address does not change, a retry is all it takes."""

    async def coverage(self) -> tuple[BlindSpot, ...]:
        """The cluster-scoped `blindspots`; none when the collector is older than them, or when
        RBAC does not let this user list them (the manifests let every authenticated user)."""
        try:
            body = await self._kube("list", "", f"{API}/blindspots", [])
        except KubeAPIError as error:
            if error.status in (403, 404):
                return ()
            raise
        try:
            return tuple(BlindSpot.from_json(item) for item in body["items"])
        except (KeyError, TypeError, ValueError) as error:
            raise _unexpected(error) from error

    async def insights(
        self, filter: EventFilter, *, top: int = 10, bucket: str | None = None
    ) -> Insights:
        raise CollectorError(
            "the Kubernetes API serves no insights: reach the collector's own API"
            " (the port-forward, or --url)"
        )

    async def _kube(
        self, verb: str, namespace: str | None, path: str, params: list[tuple[str, str]]
    ) -> Any:
        return await self._connection.get_json(path, params, _checker(verb, namespace))

    async def events(
        self, filter: EventFilter, cursor: str | None = None, limit: int = 100
    ) -> Page:
        params = [*_params(filter), ("limit", str(limit))]
        if cursor:
            params.append(("continue", cursor))
        body = await self._kube("list", filter.namespace, _path(filter.namespace), params)
        items = tuple(_event(item) for item in body.get("items", ()))
        return Page(items, (body.get("metadata") or {}).get("continue") or None)

    async def event(self, event_id: int, namespace: str | None = None) -> Event:
        if namespace is None:
            namespace = await self._namespace_of(event_id)
        body = await self._kube("get", namespace, _path(namespace, str(event_id)), [])
        return _event(body)

    async def _namespace_of(self, event_id: int) -> str:
        """Where event N is filed, for a caller that only knows its id."""
        selector = [("fieldSelector", f"metadata.name={event_id}")]
        for namespace in (None, ""):
            body = await self._kube("list", namespace, _path(namespace), selector)
            for item in body.get("items", ()):
                return str(item["metadata"].get("namespace", ""))
        raise KubeAPIError(404, f"event {event_id} is not recorded")

    async def home_namespace(self) -> str | None:
        try:
            await self._kube("list", None, _path(None), [("limit", "1")])
        except KubeAPIError as error:
            if error.status == 403:
                return self._default_namespace
            raise
        return None

    async def namespaces(self) -> tuple[NamespaceSummary, ...]:
        """The namespaces (and the cluster scope) whose history the user may read."""
        candidates = [*await self._candidate_namespaces(), ""]
        gate = asyncio.Semaphore(PARALLEL)

        async def summary(namespace: str) -> NamespaceSummary | None:
            async with gate:
                return await self._summary(namespace)

        found = await asyncio.gather(*(summary(n) for n in candidates))
        return tuple(s for s in found if s is not None)

    async def _candidate_namespaces(self) -> list[str]:
        try:
            body = await self._kube("list", None, "/api/v1/namespaces", [])
        except KubeAPIError as error:
            if error.status != 403:
                raise
            # Who may not list namespaces still reads the one their context names.
            return [self._default_namespace] if self._default_namespace else []
        return sorted(item["metadata"]["name"] for item in body.get("items", ()))

    async def _summary(self, namespace: str) -> NamespaceSummary | None:
        try:
            body = await self._kube("list", namespace, _path(namespace), [("limit", str(SAMPLE))])
        except KubeAPIError as error:
            if error.status == 403:
                return None
            raise
        events = [_event(item) for item in body.get("items", ())]
        if not events:
            return None
        kinds = Counter((e.resource.group, e.resource.kind, e.resource.resource) for e in events)
        return NamespaceSummary(
            namespace,
            _total(body, events),
            events[0].time,
            events[0].user.username,
            tuple(KindCount(g, k, r, n) for (g, k, r), n in kinds.most_common()),
        )

    async def facets(self, filter: EventFilter) -> Facets:
        """Counts for filter pickers; without a namespace, over every namespace the user may
        read (one list across namespaces if RBAC allows it, else one per namespace)."""
        if filter.namespace is None:
            try:
                return _facets(*await self._sample(filter))
            except KubeAPIError as error:
                if error.status != 403:
                    raise
            readable = [s.namespace for s in await self.namespaces()]
            samples = await asyncio.gather(
                *(self._sample(filter.with_(namespace=n)) for n in readable)
            )
            events = [e for listed, _ in samples for e in listed]
            return _facets(events, sum(total for _, total in samples))
        return _facets(*await self._sample(filter))

    async def _sample(self, filter: EventFilter) -> tuple[list[Event], int]:
        """The newest SAMPLE events the filter selects, and how many it selects in all."""
        params = [*_params(filter), ("limit", str(SAMPLE))]
        body = await self._kube("list", filter.namespace, _path(filter.namespace), params)
        events = [_event(item) for item in body.get("items", ())]
        return events, _total(body, events)

    async def stream(
        self,
        filter: EventFilter,
        after: int | None = None,
        on_open: Callable[[], None] | None = None,
    ) -> AsyncIterator[Event]:
        """A watch: ADDED changes after `after`; bookmarks keep a quiet watch alive."""
        params = [*_params(filter), ("watch", "1"), ("allowWatchBookmarks", "true")]
        if after is not None:
            params.append(("resourceVersion", str(after)))
        check = _checker("watch", filter.namespace)
        async for line in self._connection.lines(_path(filter.namespace), params, check, on_open):
            if event := _watch_event(line):
                yield event
        raise CollectorUnreachable(f"the cluster at {self._connection.base_url} closed the watch")


def _watch_event(line: str) -> Event | None:
    if not line.strip():
        return None
    try:
        message = json.loads(line)
    except ValueError:
        raise CollectorError("the watch sent something that is not JSON") from None
    kind, body = message.get("type"), message.get("object") or {}
    if kind == "ERROR":
        raise KubeAPIError(int(body.get("code") or 500), str(body.get("message") or body))
    return _event(body) if kind == "ADDED" else None


def _facets(events: list[Event], total: int) -> Facets:
    return Facets(
        total,
        tuple(
            ValueCount(user, n, user.startswith("system:"))
            for user, n in _counted(e.user.username for e in events)
        ),
        tuple(
            KindCount(g, k, r, n)
            for (g, k, r), n in _counted(
                (e.resource.group, e.resource.kind, e.resource.resource) for e in events
            )
        ),
        tuple(ValueCount(ns, n) for ns, n in _counted(e.namespace for e in events)),
        tuple(ValueCount(op, n) for op, n in _counted(e.operation for e in events)),
    )


def _total(body: JSONObject, listed: list[Event]) -> int:
    return len(listed) + int((body.get("metadata") or {}).get("remainingItemCount") or 0)


def _counted(values: Iterable[Any]) -> list[tuple[Any, int]]:
    return Counter(values).most_common()


def _checker(verb: str, namespace: str | None) -> Check:
    """How an error status reads for `verb` on the changes of `namespace`."""
    return functools.partial(_raise_for_kube_status, verb=verb, namespace=namespace)


def _raise_for_kube_status(response: httpx.Response, verb: str, namespace: str | None) -> None:
    if not response.is_error:
        return
    try:
        message = str(response.json().get("message") or "")
    except (ValueError, AttributeError):
        message = response.text.strip().splitlines()[0] if response.text.strip() else ""
    status = response.status_code
    if status == 403:
        resource = f"{_resource(namespace)}.{GROUP}"
        scope = f" -n {namespace}" if namespace else (" -A" if namespace is None else "")
        raise KubeAPIError(
            403,
            f"cannot {verb} {resource} {_where(namespace)} "
            f"(kubectl auth can-i {verb} {resource}{scope}): {message}",
        )
    if status == 401:
        raise KubeAPIError(401, "the cluster does not accept the kubeconfig's credentials")
    raise KubeAPIError(
        status, f"the Kubernetes API answered {status}: {message or response.reason_phrase}"
    )


def _unexpected(error: Exception) -> CollectorError:
    return CollectorError(f"unexpected answer from the Kubernetes API: {error!r}")

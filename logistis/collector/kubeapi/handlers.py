"""The Kubernetes API's HTTP edge on the webhook's TLS port: `/apis` and `/openapi`.

Every request is first authenticated as the apiserver's front proxy (`collector.frontproxy`);
the apiserver has already authorized the user for the verb on the resource in the namespace
before it proxied the request, so what passes here is served. Every failure is a Status.
"""

from __future__ import annotations

import asyncio
import logging
from functools import cache
from typing import Any

import orjson
from aiohttp import web

from logistis.collector.edge.http import RUNTIME, Handler
from logistis.collector.edge.stream import READS, STREAMS, Encode, Ping, close_streams, follow
from logistis.collector.history import reading
from logistis.collector.history.events import Event
from logistis.collector.history.query import EventQuery, Page, decode_cursor, whole_number
from logistis.collector.kubeapi import discovery, openapi
from logistis.collector.kubeapi.blindspots import (
    blind_spot,
    blind_spot_list,
    blind_spot_table,
    parse_window,
)
from logistis.collector.kubeapi.listing import ListRequest, encode_continue, parse_list
from logistis.collector.kubeapi.objects import change, change_list
from logistis.collector.kubeapi.resources import (
    BLIND_SPOTS,
    CHANGE_RESOURCES,
    GROUP,
    VERSION,
    Resource,
)
from logistis.collector.kubeapi.status import StatusError, not_found, status_response
from logistis.collector.kubeapi.table import accepted_table_version, include_object, table
from logistis.collector.pipeline.coverage import blind_spots, clipped, now_ms
from logistis.collector.runtime import Runtime
from logistis.collector.store import KubeStore, StoreError
from logistis.collector.trust.frontproxy import RequestHeaderAuth, Unauthenticated, authenticate

log = logging.getLogger(__name__)

AUTH = web.AppKey("request_header_auth", RequestHeaderAuth)
JSON = "application/json"
BY_PLURAL = {r.plural: r for r in CHANGE_RESOURCES}


def add_kube_api(app: web.Application, runtime: Runtime, auth: RequestHeaderAuth) -> None:
    """Serve the group on `app` (the webhook's TLS application)."""
    app[RUNTIME] = runtime
    app[AUTH] = auth
    app.setdefault(STREAMS, set())
    app.setdefault(READS, {})
    app.on_shutdown.append(close_streams)
    app.router.add_route("*", "/apis", _front_proxy(apis))
    app.router.add_route("*", "/apis/{path:.*}", _front_proxy(apis))
    app.router.add_route("*", "/openapi/{path:.*}", _front_proxy(openapi_documents))


def _front_proxy(handler: Handler) -> Handler:
    async def authenticated(request: web.Request) -> web.StreamResponse:
        ssl_object = request.transport.get_extra_info("ssl_object") if request.transport else None
        peer = ssl_object.getpeercert(binary_form=True) if ssl_object else None
        try:
            user = authenticate(request.app[AUTH].config, peer, request.headers)
        except Unauthenticated as error:
            return status_response(StatusError(401, f"Unauthorized: {error}"))
        log.debug("kube api request", extra={"user": user.name, "path": request.path})
        if request.method != "GET":
            return status_response(
                StatusError(405, f"{request.method} is not supported: the history is read-only")
            )
        try:
            return await handler(request)
        except StatusError as error:
            return status_response(error)
        except StoreError as error:
            # The database is away (PostgreSQL restarting, a failover): say so at once.
            return status_response(StatusError(503, f"store unavailable: {error}"))

    return authenticated


def _json(body: bytes | dict[str, Any]) -> web.Response:
    payload = body if isinstance(body, bytes) else orjson.dumps(body)
    return web.Response(body=payload, content_type=JSON)


async def openapi_documents(request: web.Request) -> web.StreamResponse:
    documents = {
        "v2": openapi.v2,
        "v3": openapi.v3_index,
        f"v3/{openapi.V3_PATH}": openapi.v3,
    }
    document = documents.get(request.match_info["path"].rstrip("/"))
    if document is None:
        raise StatusError(404, f"no OpenAPI document at {request.path}")
    return _json(document())


async def apis(request: web.Request) -> web.StreamResponse:
    parts = [p for p in request.match_info.get("path", "").split("/") if p]
    if parts[:2] not in ([], [GROUP], [GROUP, VERSION]):
        raise StatusError(404, f"the server could not find the requested resource {request.path}")
    if len(parts) <= 2:
        return _json(
            (discovery.api_group_list, discovery.api_group, discovery.api_resource_list)[
                len(parts)
            ]()
        )
    return await _resource_request(request, parts[2:])


async def _resource_request(request: web.Request, parts: list[str]) -> web.StreamResponse:
    namespace = None
    if parts[0] == "namespaces" and len(parts) >= 3:
        namespace, parts = parts[1], parts[2:]
    if parts[0] == BLIND_SPOTS.plural and namespace is None and len(parts) <= 2:
        return await _blind_spots(request, parts[1] if len(parts) == 2 else None)
    resource = BY_PLURAL.get(parts[0])
    if resource is None or len(parts) > 2 or (namespace is not None and not resource.namespaced):
        raise StatusError(404, f"the server could not find the requested resource {request.path}")
    if len(parts) == 2:
        return await _get(request, resource, namespace, parts[1])
    listing = parse_list(list(request.query.items()), namespace, resource.namespaced)
    if listing.watch:
        return await _watch(request, resource, listing)
    return await _list(request, resource, listing)


def _store(request: web.Request) -> KubeStore:
    return request.app[RUNTIME].store


def _qualified(resource: Resource) -> str:
    return f"{resource.plural}.{GROUP}"


def _in_scope(resource: Resource, event: Event, namespace: str | None) -> bool:
    if not resource.namespaced:
        return event.namespace == ""
    return event.namespace != "" and namespace in (None, event.namespace)


async def _get(
    request: web.Request, resource: Resource, namespace: str | None, name: str
) -> web.StreamResponse:
    if resource.namespaced and namespace is None:
        raise StatusError(404, f"{_qualified(resource)} are namespaced: name the namespace")
    event_id = whole_number(name)
    event = await reading.one(_store(request), event_id) if event_id else None
    if event is None or not _in_scope(resource, event, namespace):
        raise not_found(_qualified(resource), name)
    version = accepted_table_version(request.headers.get("Accept", ""))
    if version:
        include = include_object(request.query.get("includeObject"))
        return _json(table(version, resource, [event], include=include))
    return _json(change(resource, event, detail=True))


async def _list(
    request: web.Request, resource: Resource, listing: ListRequest
) -> web.StreamResponse:
    store = _store(request)
    if listing.continue_from:
        resource_version, start = listing.continue_from
    else:
        resource_version = await store.last_id()
        start = resource_version + 1
    list_meta: dict[str, str | int] = {"resourceVersion": str(resource_version)}
    events, cursor = await reading.page(store, listing.query, Page(listing.limit, start))
    if cursor:
        list_meta["continue"] = encode_continue(resource_version, decode_cursor(cursor))
        if listing.continue_from is None:
            # How many more there are, on the first page only (as the apiserver may):
            # what a client shows as a count without paging through everything.
            total = (await store.facets(listing.query)).total
            list_meta["remainingItemCount"] = max(0, total - len(events))
    version = accepted_table_version(request.headers.get("Accept", ""))
    if version:
        include = include_object(listing.include_object)
        return _json(table(version, resource, events, include=include, list_meta=list_meta))
    return _json(change_list(resource, events, list_meta))


async def _blind_spots(request: web.Request, name: str | None) -> web.StreamResponse:
    """The list (in its window), or one spot by its name (its start), from the heartbeats."""
    window = parse_window(list(request.query.items())) if name is None else None
    runtime = request.app[RUNTIME]
    moment = now_ms()
    interval = runtime.settings.heartbeat_interval_seconds
    spots = blind_spots(await _store(request).runs(), moment, interval)
    if window is not None:
        spots = clipped(spots, window.since_ms, window.until_ms)
    else:
        spots = [s for s in spots if str(s.start_ms) == name]
        if not spots:
            raise not_found(_qualified(BLIND_SPOTS), str(name))
    version = accepted_table_version(request.headers.get("Accept", ""))
    if version:
        include = include_object(request.query.get("includeObject"))
        return _json(blind_spot_table(version, spots, moment, include))
    if window is not None:
        return _json(blind_spot_list(spots, moment))
    return _json(blind_spot(spots[0], moment))


async def _watch(
    request: web.Request, resource: Resource, listing: ListRequest
) -> web.StreamResponse:
    store = _store(request)
    after = listing.resource_version
    if after is None:
        # No version: start at the newest event. The history is not a state to replay.
        after = await store.last_id()
    else:
        oldest = await store.events_after(0, EventQuery(), 1)
        if oldest and after < oldest[0].id - 1:
            raise StatusError(410, f"too old resource version: {after} ({oldest[0].id - 1})")
    version = accepted_table_version(request.headers.get("Accept", ""))
    include = include_object(listing.include_object) if version else ""
    encode = _encoder(resource, version or "", include)
    ping = _bookmark(resource) if listing.bookmarks else _quiet
    response = web.StreamResponse(headers={"Content-Type": JSON, "Cache-Control": "no-cache"})
    response.enable_chunked_encoding()
    await response.prepare(request)
    try:
        async with asyncio.timeout(listing.timeout_seconds):
            await follow(request, response, listing.query, after, encode, ping)
    except TimeoutError:
        pass
    return response


@cache
def _encoder(resource: Resource, table_version: str, include: str) -> Encode:
    """One function per encoding, so watches that encode alike share reads."""

    def encode(event: Event) -> bytes:
        if table_version:
            body = table(table_version, resource, [event], include=include)
        else:
            body = change(resource, event)
        return orjson.dumps({"type": "ADDED", "object": body}) + b"\n"

    return encode


@cache
def _bookmark(resource: Resource) -> Ping:
    def bookmark(last: int) -> bytes:
        marker = {
            "kind": resource.kind,
            "apiVersion": f"{GROUP}/{VERSION}",
            "metadata": {"resourceVersion": str(last)},
        }
        return orjson.dumps({"type": "BOOKMARK", "object": marker}) + b"\n"

    return bookmark


def _quiet(last: int) -> bytes:
    return b""

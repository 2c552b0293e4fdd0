"""The query API (docs/api.md): events, one event, namespaces, facets, health and metrics."""

from __future__ import annotations

import contextlib
import importlib.resources
from dataclasses import replace

import orjson
from aiohttp import web

from logistis.collector.edge.counts import facets_json, insights_answer, namespace_json
from logistis.collector.edge.http import (
    HANDLER_ARGS,
    RUNTIME,
    Handler,
    add_health_routes,
    json_error,
    json_errors,
    json_response,
)
from logistis.collector.edge.parameters import event_query, page, parse_query, single
from logistis.collector.edge.stream import READS, STREAMS, close_streams, stream
from logistis.collector.history import reading
from logistis.collector.history.events import time_to_ms
from logistis.collector.history.insights import at_ms, bucket_ms, top_count, window
from logistis.collector.history.query import FILTERS, PAGING, QueryError, whole_number
from logistis.collector.metrics import CONTENT_TYPE
from logistis.collector.pipeline.coverage import blind_spots, clipped, now_ms, seconds_since_gap
from logistis.collector.runtime import Runtime
from logistis.collector.store import QueryStore, StoreError

OPENAPI = orjson.loads(
    importlib.resources.files("logistis.collector.edge").joinpath("openapi.json").read_bytes()
)


def create_api_app(runtime: Runtime) -> web.Application:
    app = web.Application(middlewares=[json_errors, query_errors], handler_args=HANDLER_ARGS)
    app[RUNTIME] = runtime
    app[STREAMS] = set()
    app[READS] = {}
    app.router.add_get("/api/v1/events", list_events)
    app.router.add_get("/api/v1/events/{id}", get_event)
    app.router.add_get("/api/v1/stream", stream)
    app.router.add_get("/api/v1/namespaces", namespaces)
    app.router.add_get("/api/v1/facets", facets)
    app.router.add_get("/api/v1/insights", insights)
    app.router.add_get("/api/v1/coverage", coverage)
    app.router.add_get("/api/v1/openapi.json", openapi)
    app.router.add_get("/metrics", metrics)
    add_health_routes(app, runtime.unready)
    app.on_shutdown.append(close_streams)
    return app


def _store(request: web.Request) -> QueryStore:
    return request.app[RUNTIME].store


@web.middleware
async def query_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except QueryError as error:
        return json_error(400, f"invalid parameter {error.parameter!r}", str(error))
    except StoreError as error:
        # The database is away (PostgreSQL restarting, a failover): say so, and try again later.
        return json_error(503, "store unavailable", str(error))


async def list_events(request: web.Request) -> web.Response:
    grouped = parse_query(request.query.items(), allowed=FILTERS + PAGING)
    items, next_cursor = await reading.page(_store(request), event_query(grouped), page(grouped))
    return json_response({"items": [e.summary() for e in items], "next": next_cursor})


async def get_event(request: web.Request) -> web.Response:
    parse_query(request.query.items(), allowed=())
    raw = request.match_info["id"]
    event_id = whole_number(raw)
    if event_id is None:
        return json_error(400, "invalid event id", raw)
    event = await reading.one(_store(request), event_id)
    if event is None:
        return json_error(404, "no such event", event_id)
    return json_response(event.detail())


async def namespaces(request: web.Request) -> web.Response:
    parse_query(request.query.items(), allowed=())
    counted = await _store(request).namespaces()
    return json_response({"items": [namespace_json(namespace) for namespace in counted]})


async def facets(request: web.Request) -> web.Response:
    grouped = parse_query(request.query.items(), allowed=FILTERS)
    return json_response(facets_json(await _store(request).facets(event_query(grouped))))


async def insights(request: web.Request) -> web.Response:
    grouped = parse_query(request.query.items(), allowed=(*FILTERS, "bucket", "top"))
    bucket, top = bucket_ms(single(grouped, "bucket")), top_count(single(grouped, "top"))
    query = event_query(grouped)
    store = _store(request)
    until = query.until or at_ms(now_ms())
    first_ms = None if query.since else await store.first_time_ms()
    since = query.since or (until if first_ms is None else at_ms(first_ms))
    chosen = window(since, until, bucket)
    # The window reported is the one counted: `/events` with it lists these very events.
    counted = replace(query, since=chosen.since, until=chosen.until)
    return json_response(insights_answer(await store.insights(counted, chosen, top)))


async def coverage(request: web.Request) -> web.Response:
    window = event_query(parse_query(request.query.items(), allowed=("since", "until")))
    runtime: Runtime = request.app[RUNTIME]
    interval = runtime.settings.heartbeat_interval_seconds
    moment = now_ms()
    spots = blind_spots(await _store(request).runs(), moment, interval)
    since, until = (time_to_ms(t) if t else None for t in (window.since, window.until))
    return json_response(
        {
            "heartbeatSeconds": interval,
            "items": [spot.to_json(moment) for spot in clipped(spots, since, until)],
        }
    )


async def openapi(request: web.Request) -> web.Response:
    return json_response(OPENAPI)


async def metrics(request: web.Request) -> web.Response:
    runtime: Runtime = request.app[RUNTIME]
    store = _store(request)
    # The counters matter most while the store is away: they are served without its figure.
    with contextlib.suppress(StoreError):
        runtime.metrics.store_bytes.set(await store.used_bytes())
        runtime.metrics.seconds_since_gap.set(
            seconds_since_gap(
                await store.runs(), now_ms(), runtime.settings.heartbeat_interval_seconds
            )
        )
    return web.Response(body=runtime.metrics.render(), headers={"Content-Type": CONTENT_TYPE})

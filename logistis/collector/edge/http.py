"""What both HTTP servers share: JSON errors for every failure, and the health endpoints."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from aiohttp import web

from logistis.collector.pipeline.relay import Unready
from logistis.collector.runtime import Runtime

log = logging.getLogger(__name__)

RUNTIME = web.AppKey("runtime", Runtime)
# For every server's connections: bodies are decoded by `collector.payload`, where a failure
# is a JSON 4xx, not by aiohttp's parser, where it is plain text.
HANDLER_ARGS = {"auto_decompress": False}
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
UNREADY: web.AppKey[Unready] = web.AppKey("unready")


def json_response(data: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(data), status=status, content_type="application/json")


def json_error(status: int, error: str, detail: Any = None, **more: Any) -> web.Response:
    return json_response({"error": error, "detail": detail, **more}, status=status)


@web.middleware
async def json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """aiohttp's own errors (404, 405, 413...) become JSON like ours."""
    try:
        return await handler(request)
    except web.HTTPException as error:
        if error.status < 400:
            raise
        return json_error(
            error.status, error.reason, error.text if error.text != error.reason else None
        )


def add_health_routes(app: web.Application, unready: Unready) -> None:
    app[UNREADY] = unready
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)


async def healthz(request: web.Request) -> web.Response:
    return json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    problem = await request.app[UNREADY]()
    if problem is not None:
        return json_error(503, "not ready", problem)
    return json_response({"status": "ready"})

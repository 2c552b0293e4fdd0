"""What both HTTP servers share: JSON errors for every failure, and the health endpoints."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from aiohttp import web

from logistis.collector.pipeline.deriver import FAR_BEHIND_SECONDS
from logistis.collector.runtime import Runtime

log = logging.getLogger(__name__)

RUNTIME = web.AppKey("runtime", Runtime)
# For every server's connections: bodies are decoded by `collector.payload`, where a failure
# is a JSON 4xx, not by aiohttp's parser, where it is plain text.
HANDLER_ARGS = {"auto_decompress": False}
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


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


def add_health_routes(app: web.Application) -> None:
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)


async def healthz(request: web.Request) -> web.Response:
    return json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    if runtime.draining.is_set():
        return json_error(503, "not ready", "draining: shutting down")
    writer = runtime.writer
    if not writer.running:
        return json_error(503, "not ready", f"writer not running: {writer.crashed or 'stopped'}")
    behind = runtime.deriver.behind_seconds()
    if behind > FAR_BEHIND_SECONDS:
        return json_error(
            503, "not ready", f"deriving far behind: an event has waited {behind:.0f} s"
        )
    # After a failed commit only a write shows that the store takes writes again, and a pod
    # that is not ready gets no admission traffic whose commit could show it.
    check = runtime.store.check_writable if writer.last_error is None else writer.recover
    # A check that outlives the timeout runs to its end in the background: cancelled after its
    # BEGIN, it would leave a transaction open on the one write connection.
    running = asyncio.ensure_future(check())
    running.add_done_callback(retrieve_exception)
    try:
        await asyncio.wait_for(asyncio.shield(running), timeout=1.0)
    except Exception as error:  # noqa: BLE001 - any failure, a timeout included, means not ready
        problem = writer.last_error or f"store not writable: {error or type(error).__name__}"
        return json_error(503, "not ready", problem)
    return json_response({"status": "ready"})


def retrieve_exception(future: asyncio.Future[None]) -> None:
    """Mark a background future's failure as seen; whoever cared has logged or counted it."""
    if not future.cancelled():
        future.exception()

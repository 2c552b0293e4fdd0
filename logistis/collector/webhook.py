"""The admission edge: HTTP in, `collector.admission` in the middle, HTTP out.

The answer is `allowed: true` whatever happens after the review is read: a rule that throws,
a store that is full or stuck. Only a body that is not an AdmissionReview gets a 4xx, and the
webhook's `failurePolicy: Ignore` lets that request through too.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime

from aiohttp import web

from logistis.collector.admission import (
    InvalidReview,
    Review,
    allowed_response,
    event_from_request,
    read_review,
)
from logistis.collector.http import (
    HANDLER_ARGS,
    RUNTIME,
    add_health_routes,
    json_error,
    json_errors,
    json_response,
)
from logistis.collector.payload import BodyError, read_body
from logistis.collector.runtime import Runtime
from logistis.collector.writer import NotRecorded

log = logging.getLogger(__name__)


def create_webhook_app(runtime: Runtime) -> web.Application:
    app = web.Application(
        client_max_size=runtime.settings.max_body_bytes,
        middlewares=[json_errors],
        handler_args=HANDLER_ARGS,
    )
    app[RUNTIME] = runtime
    app.router.add_post("/validate", validate)
    add_health_routes(app)
    return app


async def validate(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    started = time.perf_counter()
    if request.content_type != "application/json":
        runtime.metrics.admission_requests.labels("invalid").inc()
        return json_error(415, "Content-Type must be application/json", request.content_type)
    try:
        review = read_review(await read_body(request, runtime.settings.max_body_bytes))
    except BodyError as error:
        runtime.metrics.admission_requests.labels("invalid").inc()
        return json_error(error.status, "the body cannot be read", str(error))
    except InvalidReview as error:
        runtime.metrics.admission_requests.labels("invalid").inc()
        return json_error(400, "not an AdmissionReview request", str(error), field=error.field)
    outcome = await record(runtime, review)
    runtime.metrics.admission_requests.labels(outcome).inc()
    runtime.metrics.admission_latency.observe(time.perf_counter() - started)
    return json_response(allowed_response(review))


async def record(runtime: Runtime, review: Review) -> str:
    """Record the request if the rules want it; returns the outcome for the metrics."""
    try:
        committed = _submit(runtime, review)
    except NotRecorded as error:
        return _dropped(runtime, review, error.reason)
    except Exception:
        log.exception("request not recorded", extra={"uid": review.uid})
        return _dropped(runtime, review, "internal error")
    if committed is None:
        runtime.metrics.events_skipped.inc()
        return "skipped"
    # A plain timer rather than wait_for(shield(...)): a third of the cost, on every review.
    timer = asyncio.get_running_loop().call_later(
        runtime.settings.commit_timeout_seconds, _give_up, committed
    )
    try:
        await committed
    except NotRecorded as error:
        return _dropped(runtime, review, error.reason)
    finally:
        timer.cancel()
    return "recorded"


def _give_up(committed: asyncio.Future[None]) -> None:
    """The commit took too long: answer without it. The writer still commits the event later,
    and finds its waiter gone."""
    if not committed.done():
        committed.set_exception(NotRecorded("commit timeout"))


def _submit(runtime: Runtime, review: Review) -> asyncio.Future[None] | None:
    if not runtime.rules.decide(review.request).record:
        return None
    request = runtime.redactor.redact(review.request)
    event = event_from_request(request, datetime.now(UTC), runtime.kinds)
    return runtime.writer.submit(event)


def _dropped(runtime: Runtime, review: Review, reason: str) -> str:
    runtime.metrics.events_dropped.labels(reason).inc()
    request = review.request
    log.warning(
        "event dropped, request allowed without a record",
        extra={
            "reason": reason,
            "uid": review.uid,
            "operation": request.get("operation"),
            "resource": request.get("resource", {}).get("resource"),
            "namespace": request.get("namespace", ""),
            "object_name": request.get("name", ""),
        },
    )
    return "dropped"

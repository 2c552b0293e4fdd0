"""The admission edge: HTTP in, `collector.admission` in the middle, HTTP out.

The answer is `allowed: true` whatever happens after the review is read: a rule that throws,
a store that is full or stuck. Only a body that is not an AdmissionReview gets a 4xx, and the
webhook's `failurePolicy: Ignore` lets that request through too.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any

from aiohttp import HttpVersion11, hdrs, web

from logistis.collector.admission.review import (
    InvalidReview,
    Review,
    allowed_response,
    event_from_request,
    read_review,
)
from logistis.collector.edge.http import (
    HANDLER_ARGS,
    add_health_routes,
    json_error,
    json_errors,
    json_response,
)
from logistis.collector.edge.payload import BodyError, read_body
from logistis.collector.pipeline.writer import COMMIT_TIMEOUT, NotRecorded
from logistis.collector.runtime import Admission
from logistis.collector.settings import Settings
from logistis.collector.trust.callers import WEBHOOK_PATH, ClientAuthorities, PathToken, WebhookGate

log = logging.getLogger(__name__)

# After an answer given before the whole body arrived (a 403, a 408), aiohttp reads on for this
# long so that the peer sees the answer rather than a reset: long enough for an honest client,
# short enough that a stalling one does not keep its connection by it (aiohttp's default: 10 s).
LINGER_SECONDS = 2.0
# In-flight admission requests get this long to finish after SIGTERM.
SHUTDOWN_GRACE_SECONDS = 10.0


class InFlight:
    """The reviews being answered, so that a shutdown waits for them first, while their
    connections still read: from aiohttp's own shutdown on, a connection drops what it
    receives, and a review whose headers had come and whose body was still on its way would
    wait out the grace unanswered (let through, and never recorded)."""

    def __init__(self) -> None:
        self._count = 0
        self._none = asyncio.Event()
        self._none.set()

    @contextlib.contextmanager
    def answering(self) -> Iterator[None]:
        self._count += 1
        self._none.clear()
        try:
            yield
        finally:
            self._count -= 1
            if not self._count:
                self._none.set()

    async def finished(self, seconds: float) -> None:
        """Until no review is being answered, for at most `seconds`."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._none.wait(), seconds)


ADMISSION = web.AppKey("admission", Admission)
IN_FLIGHT = web.AppKey("in_flight", InFlight)
GATE = web.AppKey("gate", WebhookGate)
OPEN_GATE = WebhookGate(PathToken(None), ClientAuthorities())


def create_webhook_app(admission: Admission, gate: WebhookGate = OPEN_GATE) -> web.Application:
    settings = admission.settings
    app = web.Application(
        client_max_size=settings.max_body_bytes,
        middlewares=[json_errors],
        handler_args={
            **HANDLER_ARGS,
            "keepalive_timeout": settings.idle_timeout_seconds,
            "lingering_time": LINGER_SECONDS,
        },
    )
    app[ADMISSION] = admission
    app[GATE] = gate
    app[IN_FLIGHT] = InFlight()
    app.router.add_post(WEBHOOK_PATH, validate, expect_handler=_continue_if_admitted)
    app.router.add_post(WEBHOOK_PATH + "/{token}", validate, expect_handler=_continue_if_admitted)
    add_health_routes(app, admission.unready)
    app.on_response_prepare.append(_close_when_draining)
    return app


@contextlib.asynccontextmanager
async def serving_webhook(
    app: web.Application, settings: Settings, context: ssl.SSLContext, *, reuse_port: bool
) -> AsyncIterator[None]:
    """The webhook's TLS port answering `app`; at the end the port closed and the reviews in
    flight finished (for up to SHUTDOWN_GRACE_SECONDS)."""
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=SHUTDOWN_GRACE_SECONDS)
    await runner.setup()
    listening: asyncio.Server | None = None
    try:
        listening = await _listen_tls(runner, settings, context, reuse_port)
        yield
    finally:
        if listening is not None:
            listening.close()
        await app[IN_FLIGHT].finished(SHUTDOWN_GRACE_SECONDS)
        await runner.cleanup()


async def _listen_tls(
    runner: web.AppRunner, settings: Settings, context: ssl.SSLContext, reuse_port: bool
) -> asyncio.Server:
    """Not a TCPSite: that has no TLS handshake timeout, and a peer that opens connections
    and never finishes its handshake would hold each for asyncio's 60 s."""
    assert runner.server is not None
    listen = settings.webhook_listen
    return await asyncio.get_running_loop().create_server(
        runner.server,
        listen.host,
        listen.port,
        ssl=context,
        ssl_handshake_timeout=settings.tls_handshake_timeout_seconds,
        reuse_address=True,
        reuse_port=reuse_port or None,
    )


async def _close_when_draining(request: web.Request, response: web.StreamResponse) -> None:
    """A draining collector closes each connection after its answer: the caller's next
    request opens a new one, which the Service sends to a replica that stays."""
    if request.app[ADMISSION].draining.is_set():
        response.force_close()
        # Said too: aiohttp chose the Connection header before this hook, and a caller told
        # nothing sends its next review on the closed connection (Go's transport: EOF, the
        # review let through unrecorded).
        response.headers[hdrs.CONNECTION] = "close"


async def _continue_if_admitted(request: web.Request) -> web.Response | None:
    """`Expect: 100-continue`: a caller the gate refuses gets its 403 at once, not an invitation
    to send the body first."""
    if not _admitted(request):
        return _forbidden(request.app[ADMISSION])
    if request.version != HttpVersion11 or request.headers[hdrs.EXPECT].lower() != "100-continue":
        raise web.HTTPExpectationFailed(text=f"Unknown Expect: {request.headers[hdrs.EXPECT]}")
    await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
    # What was just written is no part of the answer: aiohttp counts the answer's bytes from 0.
    request.writer.output_size = 0
    return None


async def validate(request: web.Request) -> web.Response:
    with request.app[IN_FLIGHT].answering():
        return await _validate(request)


async def _validate(request: web.Request) -> web.Response:
    admission = request.app[ADMISSION]
    started = time.perf_counter()
    if not _admitted(request):
        return _forbidden(admission)
    if request.content_type != "application/json":
        admission.metrics.admission_requests.labels("invalid").inc()
        return json_error(415, "Content-Type must be application/json", request.content_type)
    try:
        body = await _body(request, admission)
        review = read_review(body, whole=admission.rules.reads_whole_request)
    except TimeoutError:
        admission.metrics.admission_requests.labels("invalid").inc()
        return _closing(json_error(408, "the body did not arrive in time"))
    except BodyError as error:
        admission.metrics.admission_requests.labels("invalid").inc()
        return json_error(error.status, "the body cannot be read", str(error))
    except InvalidReview as error:
        admission.metrics.admission_requests.labels("invalid").inc()
        return json_error(400, "not an AdmissionReview request", str(error), field=error.field)
    outcome = await record(admission, review)
    admission.metrics.admission_requests.labels(outcome).inc()
    admission.metrics.admission_latency.observe(time.perf_counter() - started)
    return json_response(allowed_response(review))


async def _body(request: web.Request, admission: Admission) -> bytes:
    limit = admission.settings.max_body_bytes
    if request.content.is_eof():
        # Arrived whole with its headers, as nearly every review does: nothing to wait for, so
        # no timer (arming and cancelling one was ~8 µs of every answer).
        return await read_body(request, limit)
    async with asyncio.timeout(admission.settings.body_timeout_seconds):
        return await read_body(request, limit)


def _forbidden(admission: Admission) -> web.Response:
    # Refused before the body is read: a forged review leaves no trace but this count.
    admission.metrics.admission_requests.labels("forbidden").inc()
    return _closing(json_error(403, "forbidden", "this caller may not write history"))


def _closing(response: web.Response) -> web.Response:
    """The connection ends with this answer: whatever is left of the body is never read."""
    response.force_close()
    return response


def _admitted(request: web.Request) -> bool:
    gate = request.app[GATE]
    return gate.admits(WEBHOOK_PATH, request.match_info.get("token", ""), lambda: _peer(request))


def _peer(request: web.Request) -> bytes | None:
    """The caller's client certificate (DER), asked for only where one is required."""
    ssl_object = request.transport.get_extra_info("ssl_object") if request.transport else None
    return ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None


async def record(admission: Admission, review: Review) -> str:
    """Record the request if the rules want it; returns the outcome for the metrics."""
    try:
        committed = _submit(admission, review)
    except NotRecorded as error:
        return _dropped(admission, review, error.reason)
    except Exception:
        log.exception("request not recorded", extra={"uid": review.uid})
        return _dropped(admission, review, "internal error")
    if committed is None:
        admission.metrics.events_skipped.inc()
        return "skipped"
    try:
        # Resolved by the commit, or failed by the writer once the commit timeout has passed.
        await committed
    except NotRecorded as error:
        if error.reason == COMMIT_TIMEOUT:
            # Still committed after the answer, and counted then: late, or dropped if it fails.
            log.warning("answered before its event was committed", extra=_described(review))
            return "timeout"
        return _dropped(admission, review, error.reason)
    return "recorded"


def _submit(admission: Admission, review: Review) -> asyncio.Future[None] | None:
    if not admission.rules.decide(review.request).record:
        return None
    request = admission.redactor.redact(review.request)
    event = event_from_request(request, datetime.now(UTC), admission.kinds)
    return admission.writer.submit(event)


def _dropped(admission: Admission, review: Review, reason: str) -> str:
    admission.metrics.events_dropped.labels(reason).inc()
    log.warning(
        "event dropped, request allowed without a record",
        extra={"reason": reason, **_described(review)},
    )
    return "dropped"


def _described(review: Review) -> dict[str, Any]:
    """The request, for a log line about its event."""
    request = review.request
    return {
        "uid": review.uid,
        "operation": request.get("operation"),
        "resource": request.get("resource", {}).get("resource"),
        "namespace": request.get("namespace", ""),
        "object_name": request.get("name", ""),
    }

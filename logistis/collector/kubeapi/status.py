"""Every failure of the Kubernetes API as a `metav1.Status`, the shape kubectl reads."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

import orjson
from aiohttp import web

from logistis.collector.errors import CollectorError

# The apiserver's reasons (k8s.io/apimachinery/pkg/apis/meta/v1 StatusReason).
REASONS = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    406: "NotAcceptable",
    410: "Expired",
    500: "InternalError",
    503: "ServiceUnavailable",
}


class StatusError(CollectorError):
    """A request the API answers with a Status; raised anywhere below the handlers."""

    def __init__(self, code: int, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details


def status(code: int, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": REASONS.get(code, HTTPStatus(code).phrase.replace(" ", "")),
        "code": code,
    }
    if details:
        body["details"] = details
    return body


def status_response(error: StatusError) -> web.Response:
    return web.Response(
        body=orjson.dumps(status(error.code, error.message, error.details)),
        status=error.code,
        content_type="application/json",
    )


def not_found(resource: str, name: str) -> StatusError:
    return StatusError(
        404,
        f'{resource} "{name}" not found',
        {"name": name, "group": "logistis.io", "kind": resource.split(".")[0]},
    )

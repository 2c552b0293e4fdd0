"""`webhook` sinks: the event's summary as JSON, an `Idempotency-Key`, and an HMAC-SHA256
signature of the body when the sink has a key (`X-Logistis-Signature: sha256=<hex>`)."""

from __future__ import annotations

import hashlib
import hmac

import orjson

from logistis.collector.pipeline.notify.config import Sink
from logistis.collector.pipeline.notify.message import Message, body_json
from logistis.collector.pipeline.notify.request import Request

SIGNATURE_HEADER = "X-Logistis-Signature"


def render(message: Message, sink: Sink) -> Request:
    body = orjson.dumps(body_json(message))
    headers = {"Content-Type": "application/json", "Idempotency-Key": message.key}
    if sink.key is not None:
        digest = hmac.new(sink.key, body, hashlib.sha256).hexdigest()
        headers[SIGNATURE_HEADER] = f"sha256={digest}"
    return Request(body, headers)

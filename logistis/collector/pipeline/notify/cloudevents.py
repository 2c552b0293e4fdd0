"""`cloudevents` sinks: CloudEvents 1.0 over HTTP, binary mode, through the CloudEvents SDK:
type `io.logistis.change.v1` (`io.logistis.digest.v1` for a digest), `id` the same for each
attempt at an event, `subject` the object, the data the event's summary."""

from __future__ import annotations

from logistis.collector.pipeline.notify.config import Sink
from logistis.collector.pipeline.notify.message import Message, body_json
from logistis.collector.pipeline.notify.request import Request

CHANGE_TYPE = "io.logistis.change.v1"
DIGEST_TYPE = "io.logistis.digest.v1"


def render(message: Message, sink: Sink) -> Request:
    # Imported here: the SDK takes tens of milliseconds to import, in every collector's start,
    # and only a collector with a `cloudevents` sink renders.
    from cloudevents.core.bindings.http import to_binary_event
    from cloudevents.core.v1.event import CloudEvent

    first = message.events[0]
    attributes = {
        "id": message.key,
        "source": sink.source,
        "type": DIGEST_TYPE if message.is_digest else CHANGE_TYPE,
        "time": first.time,
        "datacontenttype": "application/json",
    }
    subject = "/".join(part for part in (first.namespace, first.name) if part)
    if subject:
        # Present, the attribute must not be empty (a CREATE by generateName has no name yet).
        attributes["subject"] = subject
    encoded = to_binary_event(CloudEvent(attributes=attributes, data=body_json(message)))
    return Request(encoded.body, {**encoded.headers, "Idempotency-Key": message.key})

"""`slack` sinks: an incoming-webhook message a person reads at a glance: who, what, where,
the fields changed and a short diff; a burst of one rule as one digest message."""

from __future__ import annotations

import orjson

from logistis.collector.history.events import Event
from logistis.collector.pipeline.notify.config import Sink
from logistis.collector.pipeline.notify.message import (
    DIGEST_SHOWN,
    Message,
    headline,
    kept_changes,
    marks,
    short_diff,
    what,
    who,
)
from logistis.collector.pipeline.notify.request import Request


def render(message: Message, sink: Sink) -> Request:
    text = _digest(message) if message.is_digest else _one(message, message.events[0])
    body = orjson.dumps({"text": text, "mrkdwn": True})
    return Request(body, {"Content-Type": "application/json", "Idempotency-Key": message.key})


def _one(message: Message, event: Event) -> str:
    found = marks(event)
    lines = [
        f"*{who(event)}* {event.operation} `{what(event)}`"
        + (f" ({', '.join(found)})" if found else "")
    ]
    paths = [op.get("path", "") for op in kept_changes(event.changes)]
    if paths:
        shown = ", ".join(f"`{p}`" for p in paths[:8])
        more = f" and {len(paths) - 8} more" if len(paths) > 8 else ""
        lines.append(f"Changed: {shown}{more}")
        lines.append("```" + "\n".join(short_diff(event)) + "```")
    link = message.link(event)
    lines.append(
        f"rule `{message.rule}`"
        + (f" · <{link}|event {event.id}>" if link else f" · event {event.id}")
    )
    return "\n".join(lines)


def _digest(message: Message) -> str:
    events = message.events
    lines = [f"*{headline(message)}* (rule `{message.rule}`)"]
    for event in events[:DIGEST_SHOWN]:
        lines.append(f"• {who(event)} {event.operation} `{what(event)}`")
    if len(events) > DIGEST_SHOWN:
        lines.append(f"… and {len(events) - DIGEST_SHOWN} more")
    return "\n".join(lines)

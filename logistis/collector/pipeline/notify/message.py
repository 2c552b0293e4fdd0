"""What a notification says, whatever carries it: one event (or a digest of several) as the
store keeps it. Secret values are digests already (collector/admission/redaction.py); the
`last-applied-configuration` annotation, a copy of the whole object, is left out."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from logistis.collector.history.continuity import MISSING, value_at
from logistis.collector.history.events import Event, SummaryJSON

LAST_APPLIED = "kubectl.kubernetes.io~1last-applied-configuration"
# Lines of a message's short diff, and characters of each value shown.
DIFF_LINES = 5
VALUE_CHARS = 60
# Events a digest names one by one; the rest are counted.
DIGEST_SHOWN = 3


@dataclass(frozen=True, slots=True)
class Message:
    """One delivery to one sink: an event, or a digest of a rule's burst."""

    sink: str
    rule: str
    events: Sequence[Event]
    event_url: str | None = None

    @property
    def is_digest(self) -> bool:
        return len(self.events) > 1

    @property
    def key(self) -> str:
        """The Idempotency-Key: the same for every attempt at this event (or these events) and
        this sink, on every collector."""
        ids = ",".join(f"{e.uid}/{e.id}" for e in self.events)
        return hashlib.sha256(f"{self.sink}|{ids}".encode()).hexdigest()

    def link(self, event: Event) -> str | None:
        return self.event_url.replace("{id}", str(event.id)) if self.event_url else None


def kept_changes(ops: Sequence[dict[str, str]]) -> list[dict[str, str]]:
    return [op for op in ops if LAST_APPLIED not in op.get("path", "")]


def summary(event: Event) -> SummaryJSON:
    """The event's summary as the API shows it, the last-applied annotation left out."""
    shown = event.summary()
    shown["changes"] = kept_changes(shown["changes"])
    shown["unrecordedChanges"] = kept_changes(shown["unrecordedChanges"])
    return shown


def body_json(message: Message) -> dict[str, Any]:
    """The JSON a machine sink receives: the event's summary, or a digest's."""
    shown = [{**summary(e), "link": message.link(e)} for e in message.events]
    if not message.is_digest:
        return {"rule": message.rule, "sink": message.sink, "event": shown[0]}
    return {
        "rule": message.rule,
        "sink": message.sink,
        "digest": headline(message),
        "events": shown,
    }


def who(event: Event) -> str:
    return event.user.username or "someone"


def what(event: Event) -> str:
    resource = event.resource
    kind = f"{resource.kind}.{resource.group}" if resource.group else resource.kind
    # A CREATE by generateName has no name yet.
    where = "/".join(part for part in (event.namespace, event.name) if part) or "(no name)"
    sub = f" ({resource.subresource})" if resource.subresource else ""
    return f"{kind} {where}{sub}"


def marks(event: Event) -> list[str]:
    """The trust marks worth a person's attention."""
    found = []
    if event.hand_edit:
        found.append("hand edit")
    if event.continuity == "gap":
        found.append("unrecorded changes before it")
    if event.applied is False:
        found.append("did not land")
    return found


def short_diff(event: Event) -> list[str]:
    """`path: old -> new` for the first changed fields, values as stored (Secret values are
    digests), each cut short."""
    lines = []
    for op in kept_changes(event.changes)[:DIFF_LINES]:
        path = op.get("path", "")
        old = value_at(event.old_object, path)
        new = value_at(event.object, path)
        lines.append(f"{path}: {_shown(old)} -> {_shown(new)}")
    return lines


def headline(message: Message) -> str:
    """`alice made 40 changes in prod-eu in 60 s`."""
    events = message.events
    people = sorted({who(e) for e in events})
    spaces = sorted({e.namespace for e in events if e.namespace})
    actor = people[0] if len(people) == 1 else f"{len(people)} people"
    place = (
        f" in {spaces[0]}"
        if len(spaces) == 1
        else f" in {len(spaces)} namespaces"
        if spaces
        else ""
    )
    span = math.ceil((events[-1].time - events[0].time).total_seconds()) or 1
    return f"{actor} made {len(events)} changes{place} in {span} s"


def _shown(value: Any) -> str:
    if value is MISSING:
        return "(none)"
    text = orjson.dumps(value).decode()
    return text if len(text) <= VALUE_CHARS else text[: VALUE_CHARS - 1] + "…"

"""An event as both stores keep it: the columns of one row, and the summary read back from one.

The row is computed off the event loop (compression is the costly part); each store maps it
onto its own column types. The change summary is derived from the stored objects after the
commit (`collector.deriver`): a row is committed with `PENDING` in its `changes` column, and a
summary read before the deriver reached it computes its changes from the objects instead.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from logistis.collector.history.changes import compute_changes
from logistis.collector.history.events import (
    Event,
    ResourceRef,
    UserInfo,
    json_value,
    time_from_ms,
    time_to_ms,
)
from logistis.collector.store import codec
from logistis.collector.store.protocol import NotStored

# The columns of an encoded row, in its order (a stored row has the event's id before them).
COLUMNS = ("uid", "time_ms", "operation", "dry_run", "username", "user_json", "grp", "version",
           "kind", "resource", "subresource", "namespace", "name", "field_manager", "changes",
           "body")  # fmt: skip
# Where the request uid and the user's uid, groups and extra sit in an encoded row.
UID = COLUMNS.index("uid")
USER_JSON = COLUMNS.index("user_json")
BODY = COLUMNS.index("body")

# The `changes` column of an event whose change summary is not derived yet (never valid JSON).
PENDING = ""
# Objects (new and old, as JSON) up to this size have their summary made with their commit
# where the store asks for it; a Deployment update is about 20 KiB.
INLINE_SUMMARY_BYTES = 256 * 2**10


@dataclass(frozen=True, slots=True)
class EncodedEvent:
    """An event ready for INSERT: its columns, computed off the event loop.

    uid, time_ms, operation, dry_run, username, user_json, grp, version, kind, resource,
    subresource, namespace, name, field_manager, changes, body.
    """

    row: tuple[Any, ...]


def encode_event(event: Event, *, derived: bool = True) -> EncodedEvent:
    """The event's INSERT row, off the event loop. With `derived`, its change summary is
    computed here and kept on the event, unless its objects are large; else the row carries
    `PENDING` for the deriver."""
    body = codec.encode(event.object, event.old_object, event.options)
    changes = PENDING
    # A large object's summary (tens of milliseconds for megabytes) would lengthen its group's
    # commit, and every other answer waiting on it: the deriver makes it after the commit.
    if derived and codec.plain_size(body) <= INLINE_SUMMARY_BYTES:
        new, old = json_value(event.object), json_value(event.old_object)
        event.object, event.old_object = new, old
        event.changes = compute_changes(event.operation, old, new)
        changes = orjson.dumps(event.changes).decode()
    user = event.user
    return EncodedEvent(
        (
            packed_uid(event.uid),
            time_to_ms(event.time),
            event.operation,
            int(event.dry_run),
            user.username,
            orjson.dumps([user.uid, list(user.groups), user.extra]).decode(),
            event.resource.group,
            event.resource.version,
            event.resource.kind,
            event.resource.resource,
            event.resource.subresource,
            event.namespace,
            event.name,
            event.field_manager,
            changes,
            body,
        )
    )


def packed_uid(uid: str) -> str | bytes:
    """The apiserver's request uids are UUIDs: 16 bytes instead of 36 characters. Anything
    else (the API accepts any string) is kept as it came."""
    try:
        packed = uuid.UUID(uid)
    except ValueError:
        return uid
    return packed.bytes if str(packed) == uid else uid


def unpack_uid(stored: str | bytes) -> str:
    """A request uid as the apiserver sent it, from its column."""
    return stored if isinstance(stored, str) else str(uuid.UUID(bytes=stored))


def encoded(event: Event, *, derived: bool) -> EncodedEvent | NotStored:
    """The row a commit group inserts, with its change summary or (`derived` False) without,
    for the deriver to fill in after the commit. An event that cannot be encoded (an object
    nested deeper than the JSON encoder goes, a value of a type the codec does not know) fails
    alone, never its group or the writer."""
    try:
        return encode_event(event, derived=derived)
    except Exception as error:  # noqa: BLE001 - whatever one event raises is that event's
        return NotStored("not encodable", f"{type(error).__name__}: {error}")


def outcomes(
    encoded_events: Sequence[EncodedEvent | NotStored], row_errors: Sequence[str | None]
) -> list[NotStored | None]:
    """Each event's outcome: why it was not encoded, or why its row was refused, or None."""
    rejected = iter(row_errors)
    result: list[NotStored | None] = []
    for event in encoded_events:
        if isinstance(event, NotStored):
            result.append(event)
        else:
            error = next(rejected)
            result.append(None if error is None else NotStored("not storable", error))
    return result


def committed(
    events: Sequence[Event],
    encoded_events: Sequence[EncodedEvent | NotStored],
    stored: Sequence[int | str],
) -> tuple[list[NotStored | None], list[int]]:
    """Each event's outcome from what its group's commit made of each row (the id it gave, or
    why it refused the row), a stored event given its id; and the bytes of JSON of each one's
    objects (0 for one not encoded), what keeping them in hand holds (store/handoff.py)."""
    encoded_ok = (
        e for e, n in zip(events, encoded_events, strict=True) if isinstance(n, EncodedEvent)
    )
    for event, id_or_error in zip(encoded_ok, stored, strict=True):
        if isinstance(id_or_error, int):
            event.id = id_or_error
    sizes = [
        codec.plain_size(e.row[BODY]) if isinstance(e, EncodedEvent) else 0 for e in encoded_events
    ]
    row_errors = [None if isinstance(s, int) else s for s in stored]
    return outcomes(encoded_events, row_errors), sizes


def _computed(operation: str, body: bytes) -> list[dict[str, str]]:
    new, old, _ = codec.decode(body)
    return compute_changes(operation, old, new)


def summary_from_row(row: Sequence[Any]) -> Event:
    """An event summary from the 16 summary columns both stores select in this order, and
    the body (only needed, and selected, while its changes are `PENDING`) after them."""
    (event_id, uid, time_ms, operation, dry_run, username, user_json, grp, version, kind,
     resource, subresource, namespace, name, field_manager, changes) = row[:16]  # fmt: skip
    user_uid, groups, extra = orjson.loads(user_json)
    return Event(
        id=event_id,
        uid=unpack_uid(uid),
        time=time_from_ms(time_ms),
        operation=operation,
        dry_run=bool(dry_run),
        user=UserInfo(username, user_uid, tuple(groups), extra),
        resource=ResourceRef(grp, version, kind, resource, subresource),
        namespace=namespace,
        name=name,
        field_manager=field_manager,
        object=None,
        old_object=None,
        options=None,
        # Read before the deriver reached it: computed here as the deriver will, never shown
        # empty.
        changes=orjson.loads(changes) if changes != PENDING else _computed(operation, row[16]),
    )


def with_objects(event: Event, body: bytes) -> Event:
    """The summary completed with its objects, decoded from the stored blob."""
    event.object, event.old_object, event.options = codec.decode(body)
    return event

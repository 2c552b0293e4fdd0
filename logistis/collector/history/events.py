"""The recorded event: one admitted write, who made it, to what, and how.

This is the collector's single definition of an event. The admission layer builds it,
the store persists it, and the API serialises it with `summary()` and `detail()` into the
wire shape of docs/api.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, TypedDict, get_args

import orjson

from logistis.collector.history.actors import ActorJSON
from logistis.collector.history.gitops import ManagedByJSON, RevisionJSON

Operation = Literal["CREATE", "UPDATE", "DELETE", "CONNECT"]
"""What an admission request does: the apiserver's four operations, named once here."""
OPERATIONS: tuple[Operation, ...] = get_args(Operation)

JSONObject = dict[str, Any]


@dataclass(frozen=True, slots=True)
class RawJSON:
    """An object's JSON as the review carried it, not decoded: the webhook decodes an object
    only where its values are needed (redaction, capture rules with CEL); the store keeps
    these bytes as they are, and the deriver decodes them once."""

    json: bytes


def json_value(value: Any) -> Any:
    """The value itself, decoded if it is still `RawJSON`."""
    return orjson.loads(value.json) if isinstance(value, RawJSON) else value


def json_bytes(value: Any) -> bytes:
    """The value's JSON: the bytes it came in if it is still `RawJSON`, else encoded."""
    return value.json if isinstance(value, RawJSON) else orjson.dumps(value)


MACHINE_PREFIX = "system:"


class UserJSON(TypedDict):
    username: str
    uid: str
    groups: list[str]
    extra: dict[str, list[str]]


class ResourceJSON(TypedDict):
    group: str
    version: str
    kind: str
    resource: str
    subresource: str


class SummaryJSON(TypedDict):
    id: int
    uid: str
    time: str
    operation: str
    dryRun: bool
    user: UserJSON
    resource: ResourceJSON
    namespace: str
    name: str
    fieldManager: str
    changes: list[dict[str, str]]
    continuity: str | None
    unrecordedChanges: list[dict[str, str]]
    applied: bool | None
    actor: ActorJSON | None
    managedBy: ManagedByJSON | None
    handEdit: bool
    revertedBy: int | None
    reverts: list[int]
    revision: RevisionJSON | None


class DetailJSON(SummaryJSON):
    object: JSONObject | RawJSON | None
    oldObject: JSONObject | RawJSON | None
    options: JSONObject | None


@dataclass(frozen=True, slots=True)
class UserInfo:
    username: str
    uid: str = ""
    groups: tuple[str, ...] = ()
    extra: dict[str, list[str]] = field(default_factory=dict)

    @property
    def is_machine(self) -> bool:
        """Controllers, service accounts, nodes and the apiserver all authenticate as `system:*`."""
        return self.username.startswith(MACHINE_PREFIX)

    def to_json(self) -> UserJSON:
        return {
            "username": self.username,
            "uid": self.uid,
            "groups": list(self.groups),
            "extra": self.extra,
        }


@dataclass(frozen=True, slots=True)
class ResourceRef:
    """The resource a change is filed under: the parent for subresource requests."""

    group: str
    version: str
    kind: str
    resource: str
    subresource: str = ""

    def to_json(self) -> ResourceJSON:
        return {
            "group": self.group,
            "version": self.version,
            "kind": self.kind,
            "resource": self.resource,
            "subresource": self.subresource,
        }


@dataclass(slots=True)
class Event:
    uid: str
    time: datetime
    operation: str
    dry_run: bool
    user: UserInfo
    resource: ResourceRef
    namespace: str
    name: str
    field_manager: str
    object: JSONObject | RawJSON | None
    old_object: JSONObject | RawJSON | None
    options: JSONObject | None
    changes: list[dict[str, str]] = field(default_factory=list)
    id: int = 0
    # Judged when read (collector/history/judgements.py), never at admission.
    continuity: str | None = None
    unrecorded_changes: list[dict[str, str]] = field(default_factory=list)
    applied: bool | None = None
    # Derived after the commit too (collector/history/provenance.py).
    actor: ActorJSON | None = None
    managed_by: ManagedByJSON | None = None
    hand_edit: bool = False
    reverted_by: int | None = None
    reverts: list[int] = field(default_factory=list)
    revision: RevisionJSON | None = None

    def summary(self) -> SummaryJSON:
        return {
            "id": self.id,
            "uid": self.uid,
            "time": format_time(self.time),
            "operation": self.operation,
            "dryRun": self.dry_run,
            "user": self.user.to_json(),
            "resource": self.resource.to_json(),
            "namespace": self.namespace,
            "name": self.name,
            "fieldManager": self.field_manager,
            "changes": self.changes,
            "continuity": self.continuity,
            "unrecordedChanges": self.unrecorded_changes,
            "applied": self.applied,
            "actor": self.actor,
            "managedBy": self.managed_by,
            "handEdit": self.hand_edit,
            "revertedBy": self.reverted_by,
            "reverts": self.reverts,
            "revision": self.revision,
        }

    def detail(self) -> DetailJSON:
        return {
            **self.summary(),
            "object": self.object,
            "oldObject": self.old_object,
            "options": self.options,
        }


def format_time(moment: datetime) -> str:
    """RFC 3339, UTC, milliseconds: the one time format of the API."""
    return (
        moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    )


def time_from_ms(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def time_to_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)

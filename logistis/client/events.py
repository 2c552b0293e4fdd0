"""The client's view of the collector's data: events, namespace summaries, facets, filters.

The one definition of the event shape on the client side (docs/api.md is the contract).
Everything here is parsed from the API's JSON once, at the edge, into frozen dataclasses,
so the front ends never index into raw dicts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from typing import Any

JSONObject = dict[str, Any]

MACHINE_PREFIX = "system:"


class MalformedEvent(ValueError):
    """A JSON document does not have the shape docs/api.md promises."""


def parse_time(text: str) -> datetime:
    """The API's RFC 3339 UTC time (`2026-11-24T10:15:03.214Z`)."""
    return datetime.fromisoformat(text)


def is_machine(username: str) -> bool:
    """Controllers, service accounts, nodes and the apiserver all authenticate as `system:*`."""
    return username.startswith(MACHINE_PREFIX)


@dataclass(frozen=True, slots=True)
class User:
    username: str
    uid: str = ""
    groups: tuple[str, ...] = ()
    extra: Mapping[str, tuple[str, ...]] = field(default_factory=dict, compare=False)

    @property
    def is_machine(self) -> bool:
        return is_machine(self.username)

    @classmethod
    def from_json(cls, data: JSONObject) -> User:
        extra = {key: tuple(values) for key, values in (data.get("extra") or {}).items()}
        return cls(data["username"], data.get("uid", ""), tuple(data.get("groups", ())), extra)


@dataclass(frozen=True, slots=True)
class ResourceRef:
    """The resource a change is filed under: the parent for subresource requests."""

    group: str
    version: str
    kind: str
    resource: str
    subresource: str = ""

    @classmethod
    def from_json(cls, data: JSONObject) -> ResourceRef:
        return cls(
            data["group"], data["version"], data["kind"], data["resource"], data["subresource"]
        )


@dataclass(frozen=True, slots=True)
class Change:
    """One RFC 6902 operation of an event's patch, its value left out by the collector."""

    op: str
    path: str

    def to_json(self) -> dict[str, str]:
        return {"op": self.op, "path": self.path}


GAP = "gap"
EXPECTED_GAP = "expected"

# The values the collector's filters take (docs/api.md): checked here before they are sent.
ACTOR_KINDS = ("person", "gitops", "controller", "serviceaccount")
TOOLS = ("argocd", "flux", "helm", "kubectl")
MANAGING_TOOLS = ("argocd", "flux", "helm")


@dataclass(frozen=True, slots=True)
class Actor:
    """Who made the request: its kind, and the tool behind it where known."""

    kind: str
    tool: str | None = None

    @classmethod
    def from_json(cls, data: JSONObject | None) -> Actor | None:
        return cls(data["kind"], data.get("tool")) if data else None


@dataclass(frozen=True, slots=True)
class ManagedBy:
    """The tool managing the object at the time, and its Application, Kustomization or
    release."""

    tool: str
    name: str
    namespace: str | None = None

    @classmethod
    def from_json(cls, data: JSONObject | None) -> ManagedBy | None:
        return cls(data["tool"], data["name"], data.get("namespace")) if data else None


@dataclass(frozen=True, slots=True)
class Revision:
    """What a GitOps tool's source was applying when it wrote."""

    tool: str
    name: str
    revision: str

    @classmethod
    def from_json(cls, data: JSONObject | None) -> Revision | None:
        return cls(data["tool"], data["name"], data["revision"]) if data else None


@dataclass(frozen=True, slots=True)
class Event:
    id: int
    uid: str
    time: datetime
    operation: str
    dry_run: bool
    user: User
    resource: ResourceRef
    namespace: str
    name: str
    field_manager: str
    changes: tuple[Change, ...]
    # Whether the history around this event is whole (docs/trust.md): `continuity` against the
    # previous recorded event, `unrecorded` what changed in between, `applied` its outcome.
    continuity: str | None = None
    unrecorded: tuple[Change, ...] = ()
    applied: bool | None = None
    # Who acted and what manages the object (docs/api.md): a hand edit of a managed object,
    # the managing tool's write that put it back (`reverted_by`, `reverts`), the revision.
    actor: Actor | None = None
    managed_by: ManagedBy | None = None
    hand_edit: bool = False
    reverted_by: int | None = None
    reverts: tuple[int, ...] = ()
    revision: Revision | None = None
    # Only an event fetched in full (`/api/v1/events/{id}`) carries the objects.
    object: JSONObject | None = field(default=None, compare=False)
    old_object: JSONObject | None = field(default=None, compare=False)
    options: JSONObject | None = field(default=None, compare=False)
    full: bool = field(default=False, compare=False)

    @property
    def kind(self) -> str:
        return self.resource.kind

    @property
    def reference(self) -> str:
        """`namespace/name` as kubectl prints it, or `name` for cluster-scoped objects."""
        return f"{self.namespace}/{self.name}" if self.namespace else self.name

    @property
    def after_gap(self) -> bool:
        """The object changed before this event without a recorded event (not only status)."""
        return self.continuity == GAP

    @property
    def never_landed(self) -> bool:
        return self.applied is False

    @property
    def object_key(self) -> tuple[str, str, str, str]:
        """The object written, whichever subresource (`scale`, `status`) the write went to."""
        return (self.resource.group, self.resource.resource, self.namespace, self.name)

    def changes_json(self) -> list[dict[str, str]]:
        return [change.to_json() for change in self.changes]

    @classmethod
    def from_json(cls, data: JSONObject) -> Event:
        try:
            return cls(
                id=int(data["id"]),
                uid=data["uid"],
                time=parse_time(data["time"]),
                operation=data["operation"],
                dry_run=bool(data["dryRun"]),
                user=User.from_json(data["user"]),
                resource=ResourceRef.from_json(data["resource"]),
                namespace=data["namespace"],
                name=data["name"],
                field_manager=data["fieldManager"],
                changes=_changes(data["changes"]),
                continuity=data.get("continuity"),
                unrecorded=_changes(data.get("unrecordedChanges") or ()),
                applied=data.get("applied"),
                actor=Actor.from_json(data.get("actor")),
                managed_by=ManagedBy.from_json(data.get("managedBy")),
                hand_edit=bool(data.get("handEdit")),
                reverted_by=data.get("revertedBy"),
                reverts=tuple(int(i) for i in data.get("reverts") or ()),
                revision=Revision.from_json(data.get("revision")),
                object=data.get("object"),
                old_object=data.get("oldObject"),
                options=data.get("options"),
                full="object" in data or "oldObject" in data,
            )
        except (KeyError, TypeError, ValueError) as error:
            raise MalformedEvent(f"malformed event from the collector: {error!r}") from error


def awaiting_outcome(shown: Sequence[Event], incoming: Iterable[Event]) -> list[Event]:
    """The shown events (newest first) whose outcome the incoming ones may have decided: for
    each incoming event, the newest shown event of the same object before it, while its
    outcome is open.

    An event is `applied` (or not) once the next recorded request for its object shows it;
    an event shown before that request came is shown undecided until asked again.
    """
    newest: dict[tuple[str, str, str, str], Event] = {}
    for event in incoming:
        for candidate in shown:
            if candidate.id < event.id and candidate.object_key == event.object_key:
                if candidate.applied is None:
                    newest.setdefault(candidate.object_key, candidate)
                break
    return list(newest.values())


def _changes(items: Sequence[JSONObject]) -> tuple[Change, ...]:
    return tuple(Change(c["op"], c["path"]) for c in items)


@dataclass(frozen=True, slots=True)
class BlindSpot:
    """A period when no collector was recording (`GET /api/v1/coverage`)."""

    start: datetime
    end: datetime | None  # None: none is recording now
    seconds: float
    cause: str

    @classmethod
    def from_json(cls, data: JSONObject) -> BlindSpot:
        end = data.get("end")
        return cls(
            parse_time(data["start"]),
            parse_time(end) if end else None,
            float(data["seconds"]),
            data["cause"],
        )


@dataclass(frozen=True, slots=True)
class KindCount:
    group: str
    kind: str
    resource: str
    count: int

    @classmethod
    def from_json(cls, data: JSONObject) -> KindCount:
        return cls(data["group"], data["kind"], data["resource"], int(data["count"]))


@dataclass(frozen=True, slots=True)
class NamespaceSummary:
    """One namespace's history at a glance; `namespace == ""` holds cluster-scoped resources."""

    namespace: str
    count: int
    last_time: datetime | None
    last_user: str
    kinds: tuple[KindCount, ...]

    @classmethod
    def from_json(cls, data: JSONObject) -> NamespaceSummary:
        last = data.get("lastTime")
        return cls(
            data["namespace"],
            int(data["count"]),
            parse_time(last) if last else None,
            data.get("lastUser") or "",
            tuple(KindCount.from_json(k) for k in data.get("kinds", ())),
        )


@dataclass(frozen=True, slots=True)
class ValueCount:
    value: str
    count: int
    machine: bool = False

    @classmethod
    def from_json(cls, data: JSONObject) -> ValueCount:
        return cls(data["value"], int(data["count"]), bool(data.get("machine", False)))


@dataclass(frozen=True, slots=True)
class Facets:
    total: int
    users: tuple[ValueCount, ...]
    kinds: tuple[KindCount, ...]
    namespaces: tuple[ValueCount, ...]
    operations: tuple[ValueCount, ...]

    @classmethod
    def from_json(cls, data: JSONObject) -> Facets:
        return cls(
            int(data["total"]),
            tuple(ValueCount.from_json(u) for u in data["users"]),
            tuple(KindCount.from_json(k) for k in data["kinds"]),
            tuple(ValueCount.from_json(n) for n in data["namespaces"]),
            tuple(ValueCount.from_json(o) for o in data["operations"]),
        )


@dataclass(frozen=True, slots=True)
class EventFilter:
    """What to show; `None` means "any". `namespace=""` selects cluster-scoped resources.

    `since`/`until` are RFC 3339 times or durations back from now (`15m`, `2h`, `7d`), passed
    to the collector as given so it alone decides what they mean.
    """

    namespace: str | None = None
    kind: str | None = None
    group: str | None = None
    name: str | None = None
    user: str | None = None
    operation: str | None = None
    people: bool | None = None
    since: str | None = None
    until: str | None = None
    q: str | None = None
    actor: str | None = None
    tool: str | None = None
    hand_edit: bool | None = None
    managed_by: str | None = None

    def to_params(self) -> list[tuple[str, str]]:
        params: list[tuple[str, str]] = []
        for each in fields(self):
            value = getattr(self, each.name)
            if value is not None:
                params.append((PARAMETERS.get(each.name, each.name), _param_text(value)))
        return params

    def with_(self, **changes: Any) -> EventFilter:
        return replace(self, **changes)

    def active(self) -> Sequence[tuple[str, str]]:
        """The narrowing filters as `(name, value)`, for showing; `people` is shown apart."""
        return [(name, value) for name, value in self.to_params() if name != "people"]

    def cleared(self) -> EventFilter:
        """No filter left but the people/everything choice, which is a view, not a filter."""
        return EventFilter(people=self.people)


# The API's names of the filters whose Python names differ.
PARAMETERS = {"hand_edit": "handEdit", "managed_by": "managedBy"}


def _param_text(value: str | bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value

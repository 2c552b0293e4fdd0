"""Whether the recorded history of one object is whole, and whether a recorded change landed.

A validating webhook sees each write before it is stored: a later admission step or a
conflicting write can still undo it, and with `failurePolicy: Ignore` whatever arrives while
no collector answers is never seen. Both show in the objects themselves. An event's old object
is what the apiserver held when the request came in; it should be what the previous recorded
event left (`continuity`), and the next recorded request should find this event's new values
(`applied`). Pure functions of the recorded objects, no I/O: the store feeds them neighbours.

Requests admitted against the same stored version (the same `resourceVersion` in their old
objects) are rivals: at most one of them landed (the storage write is conditional on that
version), so their old objects say nothing about each other, and the first later request
admitted against another version tells which one it was.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from logistis.collector.history.changes import compute_changes

JSONObject = dict[str, Any]
Continuity = Literal["first", "continuous", "gap", "expected"]
Ops = list[dict[str, str]]

# Subresources whose requests carry the object itself (or its Scale): they take part in its
# history. Others (serviceaccounts/token, pods/exec, pods/eviction, ...) carry another kind.
OBJECT_SUBRESOURCES = (
    "",
    "status",
    "scale",
    "finalize",
    "approval",
    "ephemeralcontainers",
    "resize",
)
# How many recorded neighbours on each side are looked at: enough for a few racing writers.
NEIGHBOURS = 4
# A DELETE of an object with finalizers leaves it in place with these set by the apiserver.
_DELETION_MARKS = ("deletionTimestamp", "deletionGracePeriodSeconds")
_DELETION_FINALIZERS = frozenset({"foregroundDeletion", "orphan"})
# Where controllers write (their requests are usually left out by the webhook's
# matchConditions): a gap only there is expected, not a hole in what people did.
_CONTROLLER_PATHS = ("/status",)
MISSING = object()
"""What `value_at` returns where an object has no value."""


class _Evidence(enum.Enum):
    NONE = "none"


_NO_EVIDENCE = _Evidence.NONE
"""A later request that tells nothing of whether this one landed."""
Landed = bool | None | Literal[_Evidence.NONE]


class Step:
    """One recorded request, as far as the history of its object goes.

    A step read from the store may decode its objects only when they are first compared
    (`decode`): of the neighbours read for a judgement, most are never looked at, and decoding
    was most of the cost of judging.
    """

    __slots__ = ("_decode", "_objects", "changes", "dry_run", "operation", "subresource")

    def __init__(
        self,
        operation: str,
        subresource: str,
        dry_run: bool,
        old: JSONObject | None = None,
        new: JSONObject | None = None,
        changes: Ops | None = None,
        *,
        decode: Callable[[], tuple[JSONObject | None, JSONObject | None]] | None = None,
    ) -> None:
        self.operation = operation
        self.subresource = subresource
        self.dry_run = dry_run
        self.changes = changes
        """Its change summary when already known (stored, or just derived): not computed
        again."""
        self._objects = (old, new)
        self._decode = decode

    @property
    def old(self) -> JSONObject | None:
        return self._loaded()[0]

    @property
    def new(self) -> JSONObject | None:
        return self._loaded()[1]

    def _loaded(self) -> tuple[JSONObject | None, JSONObject | None]:
        if self._decode is not None:
            self._objects = self._decode()
            self._decode = None
        return self._objects

    @property
    def takes_part(self) -> bool:
        """Whether this request wrote the object itself (a dry run is judged, never a link)."""
        return self.operation != "CONNECT" and self.subresource in OBJECT_SUBRESOURCES

    @property
    def links(self) -> bool:
        """Whether later events of the object are compared with this one."""
        return self.takes_part and not self.dry_run


@dataclass(frozen=True, slots=True)
class Outcome:
    """`applied`, and whether a later event can still change it (caches keep only final ones)."""

    applied: bool | None
    final: bool


PENDING = Outcome(None, final=False)


def continuity(
    current: Step, previous: Sequence[Step], recording_since_ms: int | None = None
) -> tuple[Continuity | None, Ops]:
    """This event against the recorded events before it (newest first, only linking ones).

    None for a request that does not write the object (CONNECT, token, eviction, ...). With
    none before it, `first` unless it is not the object's CREATE and the object was created
    since `recording_since_ms` (when the history began): then its creation went unrecorded.
    """
    if not current.takes_part:
        return None, []
    if not previous:
        if _created_since(current, recording_since_ms):
            return "gap", [{"op": "add", "path": ""}]
        return "first", []
    last = previous[0]
    if current.old is None:
        # A CREATE after a recorded DELETE (or after a CREATE that may never have landed) is a
        # new life of the name; after an update the object existed, so its removal went unseen.
        if last.operation in ("DELETE", "CREATE"):
            return "first", []
        return "gap", [{"op": "remove", "path": ""}]
    smallest: Ops | None = None
    for reference in _references(previous):
        difference = _difference(reference, current.old, last)
        if not difference:
            # Nothing is smaller: the other references need no comparing (each costs a diff).
            return "continuous", []
        if smallest is None or len(difference) < len(smallest):
            smallest = difference
    if smallest is None:  # no recorded object to compare with (a linking event has one)
        return "first", []
    return ("expected" if _only_controllers(smallest) else "gap"), smallest


def outcome(current: Step, following: Sequence[Step], previous: Sequence[Step] = ()) -> Outcome:
    """Whether this event's change landed, from the recorded events after it (oldest first)
    and its rivals among those before it (newest first): webhooks answer in any order, so a
    race's loser may be recorded after its winner."""
    if not current.takes_part:
        return Outcome(None, final=True)
    if current.dry_run:
        return Outcome(False, final=True)
    version = _resource_version(current.old)
    rivals = []
    for later in following:
        if _rivals(later, version):
            rivals.append(later)  # admitted against the same stored version as this one
            continue
        verdict = _landed(current, later)
        if verdict is _NO_EVIDENCE:
            continue
        if verdict is not True:
            # Looked for only now: most outcomes are told without decoding the events before.
            rivals.extend(step for step in previous if _rivals(step, version))
            if any(_landed(rival, later) is True for rival in rivals):
                verdict = False  # of writes against one version only one lands: a rival's did
        return Outcome(verdict, final=True)
    return PENDING


def _rivals(step: Step, version: str) -> bool:
    """Whether the request was admitted against this stored version (one of a race)."""
    return bool(version) and step.old is not None and _resource_version(step.old) == version


def _references(previous: Sequence[Step]) -> list[JSONObject]:
    """What the object may have been after the last recorded events: the new object of any of
    the racing requests at the end of the history, or their common old one if none landed."""
    last = previous[0]
    version = _resource_version(last.old)
    racing = [last]
    for step in previous[1:]:
        if not version or _resource_version(step.old) != version:
            break
        racing.append(step)
    references = [step.new for step in racing if step.new is not None]
    if last.old is not None:
        references.append(last.old)
    return references


def _difference(reference: JSONObject, old: JSONObject, last: Step) -> Ops:
    if _uid(reference) and _uid(old) and _uid(reference) != _uid(old):
        return [{"op": "replace", "path": ""}]  # deleted and created again, neither recorded
    if last.operation == "DELETE":
        reference = _after_deletion(reference, old)
    before, after = _comparable(reference, old)
    return compute_changes("UPDATE", before, after)


def _after_deletion(reference: JSONObject, old: JSONObject) -> JSONObject:
    """The object a recorded DELETE left while its finalizers run: marked by the apiserver."""
    metadata = dict(reference.get("metadata") or {})
    seen = old.get("metadata") or {}
    for mark in _DELETION_MARKS:
        if mark in seen:
            metadata[mark] = seen[mark]
    before = set(metadata.get("finalizers") or ())
    now = seen.get("finalizers") or []
    if before < set(now) and set(now) - before <= _DELETION_FINALIZERS:
        metadata["finalizers"] = now
    return {**reference, "metadata": metadata}


def _comparable(first: JSONObject, second: JSONObject) -> tuple[JSONObject, JSONObject]:
    """Both sides as far as they can be compared: a Scale (the scale subresource's own kind)
    shares only the replica count with its parent."""
    if first.get("kind") == second.get("kind"):
        return first, second
    return _replicas(first), _replicas(second)


def _replicas(obj: JSONObject) -> JSONObject:
    spec = obj.get("spec")
    if isinstance(spec, dict) and "replicas" in spec:
        return {"spec": {"replicas": spec["replicas"]}}
    return {}


def _landed(current: Step, later: Step) -> Landed:
    """What the first later request not racing with this one found."""
    if current.operation == "DELETE":
        if later.old is None:
            return True  # created again: the delete went through
        metadata = later.old.get("metadata") or {}
        return "deletionTimestamp" in metadata or _uid(later.old) != _uid(current.old)
    if later.old is None or current.new is None:
        return None  # the object was gone by then: whether this landed first cannot be told
    if current.old is None:
        return True if _uid(later.old) == _uid(current.new) else None
    changes = current.changes if current.operation == "UPDATE" else None
    return _landed_update(current.old, current.new, later.old, changes)


def _landed_update(
    old: JSONObject, new: JSONObject, found: JSONObject, changes: Ops | None
) -> Landed:
    if changes is None:
        changes = compute_changes("UPDATE", old, new)
    paths = [change["path"] for change in changes]
    if not paths:
        return True  # nothing to land
    if found.get("kind") != new.get("kind"):
        # A Scale shows only the replica count (and its parent shows nothing of a Scale's).
        paths = [path for path in paths if path == "/spec/replicas"]
        if not paths:
            return _NO_EVIDENCE
    kept = sum(value_at(found, p) == value_at(new, p) for p in paths)
    lost = sum(value_at(found, p) == value_at(old, p) for p in paths)
    if kept == lost:
        return None  # changed again in between, without a record: cannot tell
    return bool(kept > lost)


def value_at(obj: Any, path: str) -> Any:
    """The value at an RFC 6901 pointer, or a marker when there is none."""
    for token in path.split("/")[1:]:
        token = token.replace("~1", "/").replace("~0", "~")
        if isinstance(obj, dict) and token in obj:
            obj = obj[token]
        elif isinstance(obj, list) and token.isdigit() and int(token) < len(obj):
            obj = obj[int(token)]
        else:
            return MISSING
    return obj


def _only_controllers(ops: Ops) -> bool:
    return all(
        any(op["path"] == p or op["path"].startswith(p + "/") for p in _CONTROLLER_PATHS)
        for op in ops
    )


def _created_since(current: Step, since_ms: int | None) -> bool:
    """Whether the object this request found was created at or after the moment (its
    creationTimestamp has whole seconds, never later than the creation itself)."""
    if since_ms is None or current.old is None:
        return False
    created = (current.old.get("metadata") or {}).get("creationTimestamp")
    try:
        moment = datetime.fromisoformat(str(created))
    except ValueError:
        return False
    return moment.tzinfo is not None and moment.timestamp() * 1000 >= since_ms


def _resource_version(obj: JSONObject | None) -> str:
    return str(((obj or {}).get("metadata") or {}).get("resourceVersion") or "")


def _uid(obj: JSONObject | None) -> str:
    return str(((obj or {}).get("metadata") or {}).get("uid") or "")

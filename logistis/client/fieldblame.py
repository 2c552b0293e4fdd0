"""Field blame: who last changed each line of an object, from its recorded history.

The history is replayed oldest to newest. Each write is diffed against the object it
replaced (its own `oldObject`, not the previous recorded object: a write is answerable only
for what it changed), field by field, and every field it added or changed is credited to it.
A write through the `scale` subresource carries a `Scale`, not the object: its
`spec.replicas` is credited at the object's own `spec.replicas`, so after `kubectl scale`
the `replicas:` line names whoever scaled, not the controller that wrote the next object.

List items that carry a merge key (`name`, `type`, `containerPort`, ...) are followed by
that key, so inserting a container does not re-credit every container after it.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from logistis.client.diff import NOISE, strip_noise
from logistis.client.events import EXPECTED_GAP, GAP, Event
from logistis.client.managedfields import owner_of
from logistis.client.provenance import revision_text
from logistis.client.yamltext import FieldPath, yaml_lines

# The keys Kubernetes' strategic merge patches use to tell list items apart.
MERGE_KEYS = ("name", "type", "containerPort", "port", "mountPath", "devicePath", "ip")

SCALE_KIND = "Scale"
GAPS = (GAP, EXPECTED_GAP)
# Who a field is credited to when it changed outside the recorded history.
UNRECORDED = "unrecorded"
REPLICAS: FieldPath = ("spec", "replicas")


@dataclass(frozen=True, slots=True)
class ItemKey:
    """A list item known by its merge key rather than its position."""

    key: str
    value: Any


IdentityPath = tuple[str | int | ItemKey, ...]


@dataclass(frozen=True, slots=True)
class Author:
    """The write a line is credited to."""

    event_id: int
    user: str
    time: datetime
    operation: str
    manager: str
    subresource: str = ""
    # Changed outside the recorded history, found before event `event_id` at `time`.
    unrecorded: bool = False
    # A GitOps tool's write: the revision its source was applying (`shop@8f2c1e0`).
    revision: str = ""

    @property
    def via(self) -> str:
        """The field manager, with the subresource written through: `kubectl (scale)`."""
        if self.unrecorded:
            return "-"
        manager = self.manager or "-"
        return f"{manager} ({self.subresource})" if self.subresource else manager


@dataclass(frozen=True, slots=True)
class BlamedLine:
    text: str
    path: FieldPath
    author: Author | None  # None: set before the recorded history


@dataclass(slots=True)
class ObjectState:
    """An object as the history left it at some point, with the author of every field."""

    object: dict[str, Any] | None = None
    authors: dict[IdentityPath, Author] = field(default_factory=dict)
    # Fields credited to a write that named no field manager, until an object names one.
    unnamed: set[IdentityPath] = field(default_factory=set)
    creator: Author | None = None
    deleted_by: Author | None = None
    last: Author | None = None

    def lines(self, *, show_noise: bool = False) -> list[BlamedLine]:
        """The object's YAML, each line with the author of the field it shows."""
        if self.object is None:
            return []
        shown = strip_noise(self.object, show_noise)
        return [
            BlamedLine(line.text, line.path, self.authors.get(identity(shown, line.path)))
            for line in yaml_lines(shown)
        ]

    def credit(self, path: IdentityPath, author: Author) -> None:
        self.authors[path] = author
        # A deletion is nobody's field management: no manager is looked for.
        if author.manager or author.operation == "DELETE":
            self.unnamed.discard(path)
        else:
            self.unnamed.add(path)

    def name_managers(self, obj: dict[str, Any]) -> None:
        """Fill missing field managers from `obj`'s managedFields, where the apiserver left them."""
        for path in list(self.unnamed):
            author = self.authors[path]
            where = positional(obj, path)
            owner = None if where is None else owner_of(obj, where, subresource=author.subresource)
            if owner is not None:
                self.authors[path] = replace(author, manager=owner)
                self.unnamed.discard(path)


def replay(events: Iterable[Event]) -> ObjectState:
    """The state the given events (oldest first, fetched in full) leave the object in.

    A write that never landed (a later request found its old values) is answerable for nothing.
    """
    state = ObjectState()
    for event in events:
        if not event.never_landed:
            _apply(state, event, _author(event))
    return state


def _author(event: Event) -> Author:
    return Author(
        event_id=event.id,
        user=event.user.username,
        time=event.time,
        operation=event.operation,
        manager=event.field_manager,
        subresource=event.resource.subresource,
        revision=revision_text(event.revision),
    )


def _apply(state: ObjectState, event: Event, author: Author) -> None:
    new, old = event.object, event.old_object
    if event.operation == "DELETE":
        state.deleted_by = state.last = author
        if old is not None:
            state.object = old
        return
    if not isinstance(new, dict):
        return
    if new.get("kind") == SCALE_KIND:
        _apply_scale(state, old, new, author)
        return
    if event.resource.subresource and new.get("kind") != event.kind:
        return  # e.g. a TokenRequest or an Eviction: not a version of this object
    if event.operation == "CREATE":
        state.authors, state.unnamed, state.creator, state.deleted_by = {}, set(), author, None
        old = None
    elif state.object is not None and old is not None:
        # Credited as unrecorded only where the collector found a gap: a difference it judged
        # continuous comes from requests that raced (or noise), and nobody can be named.
        found = Author(author.event_id, UNRECORDED, author.time, "", "", unrecorded=True)
        _account_for_gap(state, old, found if event.continuity in GAPS else None)
    for path in changed_paths(old, new):
        state.credit(path, author)
    state.name_managers(new)
    state.object, state.last = new, author


def _account_for_gap(state: ObjectState, old: dict[str, Any], unrecorded: Author | None) -> None:
    """Credit what changed between the last recorded version and this write's `oldObject`.

    After a DELETE, the metadata that changed is what the apiserver did for it
    (`deletionTimestamp`, finalizers); fields the server rewrites on every write are nobody's;
    anything else changed in a write that went unrecorded: it is credited as such.
    """
    deleting = state.deleted_by
    for path in changed_paths(state.object, old):
        if deleting is not None and path[:1] == ("metadata",):
            state.credit(path, deleting)
        elif unrecorded is None or any(path[: len(noise)] == noise for noise in NOISE):
            state.authors.pop(path, None)
            state.unnamed.discard(path)
        else:
            state.authors[path] = unrecorded
            state.unnamed.discard(path)


def _apply_scale(state: ObjectState, old: Any, new: dict[str, Any], author: Author) -> None:
    replicas = _get(new, REPLICAS)
    if replicas is None or _get(old, REPLICAS) == replicas:
        return
    state.credit(REPLICAS, author)
    state.last = author
    if state.object is not None:
        state.object = copy.deepcopy(state.object)
        state.object.setdefault("spec", {})["replicas"] = replicas


def _get(obj: Any, path: FieldPath) -> Any:
    for part in path:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(part)
    return obj


def changed_paths(old: Any, new: Any) -> list[IdentityPath]:
    """Fields of `new` that `old` lacks or holds a different value in (no value for `None`)."""
    before = flatten(old) if old is not None else {}
    return [path for path, value in flatten(new).items() if before.get(path, _MISSING) != value]


_MISSING = object()


def flatten(obj: Any) -> dict[IdentityPath, Any]:
    """Every field of `obj` by identity path: leaves with their value, containers by type."""
    out: dict[IdentityPath, Any] = {}
    _flatten(obj, (), out)
    return out


def _flatten(value: Any, path: IdentityPath, out: dict[IdentityPath, Any]) -> None:
    if isinstance(value, dict) and value:
        out[path] = "{...}"
        for key, child in value.items():
            _flatten(child, (*path, key), out)
    elif isinstance(value, list) and value:
        out[path] = "[...]"
        keys = _item_keys(value)
        for index, child in enumerate(value):
            _flatten(child, (*path, keys[index] if keys else index), out)
    else:
        # A JSON rendering tells 1 from 1.0 from "1" from True, as the apiserver does.
        out[path] = json.dumps(value, sort_keys=True)


def _item_keys(items: list[Any]) -> list[ItemKey] | None:
    if not all(isinstance(item, dict) for item in items):
        return None
    for key in MERGE_KEYS:
        values = [item.get(key) for item in items]
        if all(isinstance(v, str | int) for v in values) and len(set(values)) == len(values):
            return [ItemKey(key, v) for v in values]
    return None


def identity(obj: Any, path: FieldPath) -> IdentityPath:
    """The identity path of the field at positional `path` in `obj`."""
    out: list[str | int | ItemKey] = []
    for part in path:
        if isinstance(part, int) and isinstance(obj, list):
            keys = _item_keys(obj)
            out.append(keys[part] if keys else part)
            obj = obj[part]
        else:
            out.append(part)
            obj = obj.get(part) if isinstance(obj, dict) else None
    return tuple(out)


def positional(obj: Any, path: IdentityPath) -> FieldPath | None:
    """The positional path of the field at identity `path` in `obj`; None if it is not there."""
    out: list[str | int] = []
    for part in path:
        if isinstance(part, ItemKey):
            items = obj if isinstance(obj, list) else []
            index = next(
                (i for i, item in enumerate(items) if item.get(part.key) == part.value), None
            )
            if index is None:
                return None
            out.append(index)
            obj = items[index]
        elif _has(obj, part):
            out.append(part)
            obj = obj[part]
        else:
            return None
    return tuple(out)


def _has(container: Any, part: str | int) -> bool:
    if isinstance(container, dict):
        return part in container
    return isinstance(container, list) and isinstance(part, int) and 0 <= part < len(container)

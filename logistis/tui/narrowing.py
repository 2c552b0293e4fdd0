"""The event list's filter changed from what the operator points at: a place in the namespace
tree, a field of the selected event, its object's whole history, and the two views that toggle
(people only, hand edits only)."""

from __future__ import annotations

from logistis.client.events import Event, EventFilter
from logistis.tui.widgets.namespace_tree import Place


def at_place(filter: EventFilter, place: Place) -> EventFilter:
    """`filter` within the tree's `place`: everything, a namespace, a kind in it, one object."""
    kind = place.kind
    return filter.with_(
        namespace=place.namespace,
        kind=kind.kind if kind else None,
        group=kind.group if kind else None,
        name=place.name,
    )


def only(filter: EventFilter, event: Event, field: str) -> EventFilter:
    """`filter` narrowed to `event`'s `field`: user, kind (with its API group), namespace or
    operation."""
    values: dict[str, dict[str, object]] = {
        "user": {"user": event.user.username},
        "kind": {"kind": event.kind, "group": event.resource.group},
        "namespace": {"namespace": event.namespace},
        "operation": {"operation": event.operation},
    }
    return filter.with_(**values[field])


def object_history(event: Event) -> EventFilter:
    """Everything recorded of `event`'s object, machines' writes too."""
    return EventFilter(
        namespace=event.namespace,
        kind=event.kind,
        group=event.resource.group,
        name=event.name,
    )


def people_toggled(filter: EventFilter) -> EventFilter:
    """People only, or everything (machine identities too)."""
    return filter.with_(people=None if filter.people else True)


def hand_edits_toggled(filter: EventFilter) -> EventFilter:
    """Only hand edits of managed objects, or every change."""
    return filter.with_(hand_edit=None if filter.hand_edit else True)

"""What the front ends say where the recorded history is not whole (docs/trust.md).

One wording for the TUI and `kubectl blame`: a gap before an event (the object changed
without a recorded event), a status-only gap (as controllers do), and a change that never
landed.
"""

from __future__ import annotations

from collections.abc import Callable

from logistis.tui.core.diff import summarize_changes
from logistis.tui.core.events import EXPECTED_GAP, GAP, Event

GAP_MARK = "⋯"
NEVER_LANDED_MARK = "✗"
UNRECORDED = "unrecorded"
NEVER_LANDED = "never landed"
WHY_NEVER_LANDED = (
    "a later recorded request found the old values: a later admission step rejected it, "
    "or a concurrent write won"
)


# What an operation on the whole object ("" path) says happened to it unrecorded.
WHOLE_OBJECT = {"add": "created", "remove": "removed", "replace": "deleted and created again"}


def unrecorded_paths(event: Event, path: Callable[[str], str] | None = None) -> list[str]:
    """`add /metadata/labels/owner`, one per operation; `remove (the whole object)` for "".
    `path` shows each pointer otherwise (`field_path`: `add metadata.labels.owner`)."""
    shown = path or (lambda pointer: pointer)
    return [f"{c.op} {shown(c.path) or '(the whole object)'}" for c in event.unrecorded]


def unrecorded_summary(event: Event) -> str:
    """`spec.replicas, metadata.labels.owner`, or what happened to the whole object."""
    whole = [c for c in event.unrecorded if not c.path]
    if whole:
        return WHOLE_OBJECT.get(whole[0].op, WHOLE_OBJECT["replace"])
    return summarize_changes([c.to_json() for c in event.unrecorded])


def gap_line(event: Event) -> str | None:
    """One line saying what changed before this event outside the recorded history, if any."""
    if event.continuity == GAP:
        return f"{GAP_MARK} changed outside the recorded history: {unrecorded_summary(event)}"
    if event.continuity == EXPECTED_GAP:
        return (
            f"{GAP_MARK} status changed outside the recorded history (as controllers do): "
            f"{unrecorded_summary(event)}"
        )
    return None


def never_landed_line(event: Event) -> str | None:
    if not event.never_landed:
        return None
    return f"{NEVER_LANDED_MARK} {NEVER_LANDED}: {why_never_landed(event)}"


def why_never_landed(event: Event) -> str:
    return "a dry run" if event.dry_run else WHY_NEVER_LANDED

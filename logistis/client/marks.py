"""What the front ends say where the recorded history is not whole (docs/trust.md).

One wording for the TUI and `kubectl blame`: a gap before an event (the object changed
without a recorded event), a status-only gap (as controllers do), and a change that never
landed.
"""

from __future__ import annotations

from collections.abc import Callable

from logistis.client.diff import summarize_changes
from logistis.client.events import EXPECTED_GAP, GAP, BlindSpot, Event
from logistis.client.timeparse import format_time

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


# What each mark means, in docs/trust.md's words, for a front end that explains one mark.
GAP_MEANS = (
    "The object's old state at this event is not what the previous recorded event left: it "
    "changed in between without a recorded event. Which fields are known; their values are not "
    "kept."
)
GAP_CAUSES = (
    "The collector was down or did not answer in time; a request excluded by capture rules; "
    "after a removal, `removed` (the delete was not seen, e.g. an eviction) or `deleted and "
    "created again` (the object's uid changed)."
)
BLIND_SPOT_MEANS = (
    "No collector was recording: everything written then may be missing. A write while no "
    "collector ran shows as a gap at the object's next recorded event; a blind spot with no gap "
    "after it means nothing written then has been touched since (or nothing was written)."
)
BLIND_SPOT_CAUSES = {
    "stopped": "a clean stop (an upgrade, a restart, a rollout with one replica)",
    "lost": (
        "the heartbeats ended without a clean stop (a crash, an OOM kill, a lost node, the "
        "process stalled for more than two heartbeat intervals)"
    ),
    "silent": "none is recording now",
}

Explanation = list[tuple[str, str]]
"""(heading, text) pairs, in the order to show them."""


def explain_gap(event: Event, previous: Event | None) -> Explanation:
    """The `⋯ unrecorded` mark at `event`; `previous` is the object's recorded event before
    it, when the caller has it."""
    since = (
        f"event {previous.id} ({format_time(previous.time)})"
        if previous
        else "its previous recorded event"
    )
    expected = event.continuity == EXPECTED_GAP
    return [
        ("mark", f"{GAP_MARK} {UNRECORDED} (continuity: {event.continuity})"),
        ("object", f"{event.kind} {event.reference}"),
        ("period", f"between {since} and event {event.id} ({format_time(event.time)})"),
        ("fields", "\n".join(unrecorded_paths(event)) or "(not told)"),
        ("means", GAP_MEANS),
        ("usual causes", "controllers' status writes" if expected else GAP_CAUSES),
    ]


def explain_blind_spot(spot: BlindSpot) -> Explanation:
    end = format_time(spot.end) if spot.end else "now: none is recording"
    cause = BLIND_SPOT_CAUSES.get(spot.cause, "")
    return [
        ("mark", f"{GAP_MARK} blind spot"),
        ("period", f"{format_time(spot.start)} to {end} ({spot.seconds:g}s)"),
        ("reason", f"{spot.cause}: {cause}" if cause else spot.cause),
        ("means", BLIND_SPOT_MEANS),
    ]

"""`-o diff`: each change as a colored unified diff of the object's YAML, `[...]` for what is
left out, noise hidden unless `--show-managed-fields`."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from logistis.client.diff import DiffKind, DiffLine, unified_diff
from logistis.client.events import Event
from logistis.client.marks import gap_line, never_landed_line
from logistis.client.timeparse import format_time
from logistis.kubectl.naming import Naming
from logistis.kubectl.terminal import Style, Terminal

STYLES = {
    DiffKind.ADD: Style.ADD,
    DiffKind.REMOVE: Style.REMOVE,
    DiffKind.ELISION: Style.ELISION,
    DiffKind.HEADER: Style.BOLD,
}

NOTHING_SHOWN = "  (only fields the server rewrites changed; --show-managed-fields shows them)"


def describe(event: Event) -> str:
    """`UPDATE by alice at 2026-11-25T01:47:40Z via kubectl-set`."""
    through = (
        f" through {event.resource.resource}/{event.resource.subresource}"
        if event.resource.subresource
        else ""
    )
    via = f" via {event.field_manager}" if event.field_manager else ""
    return f"{event.operation}{through} by {event.user.username} at {format_time(event.time)}{via}"


def event_diffs(
    events: Sequence[Event],
    terminal: Terminal,
    naming: Naming,
    *,
    context: int = 3,
    show_noise: bool = False,
) -> list[str]:
    """`events` must be fetched in full."""
    out: list[str] = []
    for index, event in enumerate(events):
        if index:
            out.append("")
        out.append(
            terminal.paint(
                terminal.fit(f"event {event.id}  {naming.title(event)}  {describe(event)}"),
                Style.HEADER,
            )
        )
        out.extend(_marks(event, terminal))
        lines = unified_diff(event.old_object, event.object, context=context, show_noise=show_noise)
        out.extend(paint_diff(lines, terminal) if lines else [NOTHING_SHOWN])
    return out


def _marks(event: Event, terminal: Terminal) -> list[str]:
    """Where the diff's "before" side is not what the previous recorded event left, and
    whether the change landed."""
    gap, lost = gap_line(event), never_landed_line(event)
    style = Style.WARN if event.after_gap else Style.DIM
    return [
        *([terminal.paint(terminal.fit(gap), style)] if gap else []),
        *([terminal.paint(terminal.fit(lost), Style.DIM)] if lost else []),
    ]


def paint_diff(lines: Iterable[DiffLine], terminal: Terminal) -> list[str]:
    return [terminal.paint(terminal.fit(line.marked), STYLES.get(line.kind)) for line in lines]

"""The tables: the cluster overview by namespace, and events (`-o table`, `-o wide`).

`-o table` is the original plugin's first view: KEY, OPERATION, USER, TIME and the event's
JSON-patch operations (paths only, noise left out by the collector). `-o wide` adds the
event id and field manager, and the operations with their old and new values.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from logistis.tui.blame.table import Cell, Column, render_table
from logistis.tui.blame.terminal import OPERATION_STYLES, Style, Terminal
from logistis.tui.core.diff import patch_lines
from logistis.tui.core.events import Event, NamespaceSummary
from logistis.tui.core.marks import (
    GAP_MARK,
    NEVER_LANDED,
    NEVER_LANDED_MARK,
    UNRECORDED,
    unrecorded_paths,
)
from logistis.tui.core.timeparse import format_time

MAX_PATCH_LINES = 10
CLUSTER_SCOPE = "(cluster)"
TOP_KINDS = 3
# Enough for `…deployment-controller`: the end of a name says most.
USER_CAP = 22


def event_key(event: Event) -> str:
    """`team-a/Deployment/nginx`, or `ClusterRole/admin` for a cluster-scoped object."""
    key = f"{event.kind}/{event.name}"
    return f"{event.namespace}/{key}" if event.namespace else key


def operation_text(event: Event) -> str:
    """`UPDATE`, or `UPDATE scale` for a write through a subresource."""
    sub = event.resource.subresource
    return f"{event.operation} {sub}" if sub else event.operation


def _operation_style(text: str) -> Style | None:
    if text.startswith(GAP_MARK):
        return Style.WARN
    return OPERATION_STYLES.get(text.split(" ", 1)[0])


def _patch_style(text: str) -> Style | None:
    return Style.DIM if text.startswith(NEVER_LANDED_MARK) else None


_KEY = Column("KEY", shrink=True, min_width=12)
_OPERATION = Column("OPERATION", style=_operation_style)
_USER = Column("USER", shrink=True, keep_end=True, min_width=12, cap=USER_CAP)
_TIME = Column("TIME")
_PATCH = Column("PATCH", shrink=True, min_width=16, style=_patch_style)


def event_table(events: Sequence[Event], terminal: Terminal) -> list[str]:
    rows = [
        row
        for e in events
        for row in _marked(
            e, [event_key(e), operation_text(e), e.user.username, format_time(e.time), _paths(e)]
        )
    ]
    return render_table([_KEY, _OPERATION, _USER, _TIME, _PATCH], rows, terminal)


def _marked(event: Event, row: list[Cell]) -> list[list[Cell]]:
    """The event's row, marked when it never landed, and below it (before it in time) a row
    for what changed outside the recorded history."""
    if event.never_landed:
        row = [*row[:-1], [f"{NEVER_LANDED_MARK} {NEVER_LANDED}", *row[-1]]]
    if not event.after_gap:
        return [row]
    gap = [event_key(event), f"{GAP_MARK} {UNRECORDED}", "?", "-", unrecorded_paths(event)]
    if len(row) > len(gap):  # the wide table: no id, no manager
        gap = ["", *gap[:4], "-", gap[4]]
    return [row, gap]


def wide_table(
    events: Sequence[Event], terminal: Terminal, *, show_noise: bool = False
) -> list[str]:
    """`events` must be fetched in full: the patch shows values."""
    columns = [Column("ID"), _KEY, _OPERATION, _USER, _TIME, Column("MANAGER", shrink=True), _PATCH]
    rows: list[list[Cell]] = [
        row
        for e in events
        for row in _marked(
            e,
            [
                str(e.id),
                event_key(e),
                operation_text(e),
                e.user.username,
                format_time(e.time),
                e.field_manager or "-",
                _capped(patch_lines(e.old_object, e.object, show_noise=show_noise)),
            ],
        )
    ]
    return render_table(columns, rows, terminal)


def _paths(event: Event) -> list[str]:
    return _capped([f"{c.op} {c.path}".rstrip() for c in event.changes] or ["-"])


def _capped(lines: list[str]) -> list[str]:
    if len(lines) <= MAX_PATCH_LINES:
        return lines
    return [*lines[: MAX_PATCH_LINES - 1], f"… {len(lines) - MAX_PATCH_LINES + 1} more"]


def overview_table(summaries: Sequence[NamespaceSummary], terminal: Terminal) -> list[str]:
    columns = [
        Column("NAMESPACE", shrink=True),
        Column("CHANGES"),
        Column("LAST CHANGE"),
        Column("BY", shrink=True, keep_end=True, min_width=12, cap=USER_CAP),
        Column("KINDS", shrink=True),
    ]
    rows = [
        [
            s.namespace or CLUSTER_SCOPE,
            str(s.count),
            format_time(s.last_time) if s.last_time else "-",
            s.last_user or "-",
            _top_kinds({k.kind: k.count for k in s.kinds}),
        ]
        for s in summaries
    ]
    return render_table(columns, rows, terminal)


def _top_kinds(counts: Mapping[str, int]) -> str:
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    shown = ", ".join(f"{kind} {count}" for kind, count in ranked[:TOP_KINDS])
    rest = len(ranked) - TOP_KINDS
    return f"{shown}, +{rest} more" if rest > 0 else shown

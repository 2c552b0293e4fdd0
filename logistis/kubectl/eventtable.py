"""The tables: the cluster overview by namespace, and events (`-o table`, `-o wide`).

`-o table` is the original plugin's first view: KEY, OPERATION, USER, TIME and the event's
JSON-patch operations (paths only, noise left out by the collector). `-o wide` adds the
event id, field manager, what managed the object (Argo CD's Application, Flux's Kustomization)
and the revision a GitOps tool's write came from, and the operations with their old and new
values. A hand edit of a managed object is marked after its operation (docs/blame.md). In kubectl's
dialect the key is NAME (`deployment.apps/nginx`), after a NAMESPACE column when the list
spans namespaces, and the fields are paths (`spec.replicas`), not JSON pointers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from logistis.client.diff import patch_lines, summarize_changes
from logistis.client.events import Event, NamespaceSummary
from logistis.client.managedfields import write_manager
from logistis.client.marks import (
    GAP_MARK,
    NEVER_LANDED,
    NEVER_LANDED_MARK,
    UNRECORDED,
    unrecorded_paths,
)
from logistis.client.provenance import hand_mark, managed_text, revision_text
from logistis.client.timeparse import format_time
from logistis.kubectl.naming import Naming
from logistis.kubectl.table import Cell, Column, render_table
from logistis.kubectl.terminal import OPERATION_STYLES, Style, Terminal

MAX_PATCH_LINES = 10
NEVER_LANDED_LINE = f"{NEVER_LANDED_MARK} {NEVER_LANDED}"
CLUSTER_SCOPE = "(cluster)"
TOP_KINDS = 3
# Enough for `…deployment-controller`: the end of a name says most.
USER_CAP = 22


def operation_text(event: Event) -> str:
    """`UPDATE`, or `UPDATE scale` for a write through a subresource; a hand edit's mark after
    it (`UPDATE scale ✋↩`: put back; `✋`: it stuck; `↩`: the tool's write that put one back)."""
    sub = event.resource.subresource
    mark = hand_mark(event)
    return " ".join(part for part in (event.operation, sub, mark) if part)


def _operation_style(text: str) -> Style | None:
    if text.startswith(GAP_MARK):
        return Style.WARN
    return OPERATION_STYLES.get(text.split(" ", 1)[0])


def _patch_style(text: str) -> Style | None:
    return Style.DIM if text.startswith(NEVER_LANDED_MARK) else None


_OPERATION = Column("OPERATION", style=_operation_style)
_USER = Column("USER", shrink=True, keep_end=True, min_width=12, cap=USER_CAP)
_TIME = Column("TIME")
_PATCH = Column("PATCH", shrink=True, min_width=16, style=_patch_style)
_CHANGED = Column("CHANGED", shrink=True, min_width=16, style=_patch_style)


def _key_columns(naming: Naming) -> list[Column]:
    if not naming.kubectl:
        return [Column("KEY", shrink=True, min_width=12)]
    name = Column("NAME", shrink=True, min_width=12)
    return [Column("NAMESPACE", shrink=True), name] if naming.namespace_column else [name]


def _key_cells(event: Event, naming: Naming) -> list[Cell]:
    key = naming.key(event)
    return [event.namespace, key] if naming.namespace_column else [key]


def event_table(
    events: Sequence[Event],
    terminal: Terminal,
    naming: Naming,
    *,
    headers: bool = True,
    one_line: bool = False,
) -> list[str]:
    """KEY (or NAME), OPERATION, USER, TIME and the patch's operations; `one_line` is the log's
    layout, newest first as `git log` has it: the fields changed summed up in one cell."""

    def cells(e: Event) -> list[Cell]:
        changes = _summary(e) if one_line else _paths(e, naming)
        return [operation_text(e), e.user.username, format_time(e.time), changes]

    columns = [*_key_columns(naming), _OPERATION, _USER, _TIME, _CHANGED if one_line else _PATCH]
    return render_table(columns, _rows(events, naming, cells), terminal, headers=headers)


def wide_table(
    events: Sequence[Event],
    terminal: Terminal,
    naming: Naming,
    *,
    show_noise: bool = False,
    headers: bool = True,
) -> list[str]:
    """`events` must be fetched in full: the patch shows values, the manager may come from
    the object's managedFields."""

    def cells(e: Event) -> list[Cell]:
        patch = patch_lines(e.old_object, e.object, show_noise=show_noise, path=naming.path)
        manager = write_manager(e) or "-"
        managed = managed_text(e.managed_by) or "-"
        revision = revision_text(e.revision) or "-"
        return [
            operation_text(e),
            e.user.username,
            format_time(e.time),
            manager,
            managed,
            revision,
            _capped(patch),
        ]

    columns = [
        Column("ID"),
        *_key_columns(naming),
        _OPERATION,
        _USER,
        _TIME,
        Column("MANAGER", shrink=True),
        Column("MANAGED BY", shrink=True),
        Column("REVISION", shrink=True),
        _PATCH,
    ]
    rows = _rows(events, naming, cells, with_id=True)
    return render_table(columns, rows, terminal, headers=headers)


def _rows(
    events: Sequence[Event],
    naming: Naming,
    cells: Callable[[Event], list[Cell]],
    *,
    with_id: bool = False,
) -> list[list[Cell]]:
    """Each event's row (after its id and key cells), marked when it never landed, and below
    it (before it in time) a row for what changed outside the recorded history."""
    rows: list[list[Cell]] = []
    for event in events:
        row = [*_key_cells(event, naming), *cells(event)]
        if event.never_landed:
            last = row[-1]
            row[-1] = [NEVER_LANDED_LINE, *([last] if isinstance(last, str) else last)]
        rows.append([str(event.id), *row] if with_id else row)
        if event.after_gap:
            keys = _key_cells(event, naming)
            # Nobody known (?), no time nor manager (-), and what changed.
            unknown = ["-"] * (len(row) - len(keys) - 3)
            changed = unrecorded_paths(event, naming.path)
            gap = [*keys, f"{GAP_MARK} {UNRECORDED}", "?", *unknown, changed]
            rows.append(["", *gap] if with_id else gap)
    return rows


def _paths(event: Event, naming: Naming) -> list[str]:
    return _capped([f"{c.op} {naming.path(c.path)}".rstrip() for c in event.changes] or ["-"])


def _summary(event: Event) -> str:
    return summarize_changes(event.changes_json(), max_paths=3) or "-"


def _capped(lines: list[str]) -> list[str]:
    if len(lines) <= MAX_PATCH_LINES:
        return lines
    return [*lines[: MAX_PATCH_LINES - 1], f"… {len(lines) - MAX_PATCH_LINES + 1} more"]


def overview_table(
    summaries: Sequence[NamespaceSummary], terminal: Terminal, *, headers: bool = True
) -> list[str]:
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
            top_kinds({k.kind: k.count for k in s.kinds}),
        ]
        for s in summaries
    ]
    return render_table(columns, rows, terminal, headers=headers)


def top_kinds(counts: Mapping[str, int]) -> str:
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    shown = ", ".join(f"{kind} {count}" for kind, count in ranked[:TOP_KINDS])
    rest = len(ranked) - TOP_KINDS
    return f"{shown}, +{rest} more" if rest > 0 else shown

"""`--fields`: the object's YAML, each line annotated like `git blame` with the event, user,
time and field manager of the write that last changed it."""

from __future__ import annotations

from typing import Any

from logistis.client.events import is_machine
from logistis.client.fieldblame import UNRECORDED, Author, BlamedLine, ObjectState
from logistis.client.timeparse import format_time
from logistis.kubectl.table import Column, render_table
from logistis.kubectl.terminal import Style, Terminal

MAX_USER = 18
MAX_MANAGER = 16
MAX_REVISION = 24
MIN_TEXT = 24
UNKNOWN = "?"
UNRECORDED_MARK = "⋯"
GAP = "  "
SEPARATOR = "| "


def header(key: str, state: ObjectState, writes: int) -> list[str]:
    """`# team-a/Deployment/nginx: 26 recorded writes`, then who created and deleted it."""
    lines = [f"# {key}: {writes} recorded write{'s' if writes != 1 else ''}"]
    if state.creator is not None:
        lines.append(f"# created {_by(state.creator)}")
    else:
        lines.append("# created before the recorded history: lines marked ? predate it")
    if any(a.unrecorded for a in state.authors.values()):
        lines.append(
            f"# {UNRECORDED_MARK} {UNRECORDED}: changed by a write no collector recorded "
            "(the time is when it was found)"
        )
    if state.deleted_by is not None:
        lines.append(f"# deleted {_by(state.deleted_by)}: this is its last recorded version")
    return lines


def _by(author: Author) -> str:
    return f"by {author.user} at {format_time(author.time)} (event {author.event_id})"


def annotated(lines: list[BlamedLine], terminal: Terminal) -> list[str]:
    """`44  alice  2026-11-25T01:47:38Z  kubectl-create | apiVersion: apps/v1`, one per line.

    On a narrow terminal the user and manager give up width before the YAML does. Lines a
    GitOps tool wrote name the revision it was applying (`shop@8f2c1e0`) after the manager.
    """
    revisions = any(line.author and line.author.revision for line in lines)
    columns = [
        Column(""),
        Column("", shrink=True, keep_end=True, min_width=10, cap=MAX_USER, style=_user_style),
        Column(""),
        Column("", shrink=True, min_width=10, cap=MAX_MANAGER),
        *([Column("", shrink=True, min_width=10, cap=MAX_REVISION)] if revisions else []),
        Column("", shrink=True, min_width=MIN_TEXT),
    ]
    rows = [_row(line, revisions) for line in lines]
    return render_table(columns, rows, terminal, gap=GAP)


def _row(line: BlamedLine, revisions: bool) -> list[str]:
    author = line.author
    if author is None:
        cells = [UNKNOWN, "", "", "", ""]
    elif author.unrecorded:
        cells = [UNRECORDED_MARK, author.user, format_time(author.time), "-", ""]
    else:
        who = [str(author.event_id), author.user, format_time(author.time), author.via]
        cells = [*who, author.revision]
    return [*cells[: 5 if revisions else 4], SEPARATOR + line.text]


def _user_style(user: str) -> Style | None:
    if user == UNRECORDED:
        return Style.WARN
    return Style.DIM if is_machine(user) else None


def blame_json(lines: list[BlamedLine]) -> list[dict[str, Any]]:
    """The annotated lines for scripts: text, field path and author of each."""
    return [
        {
            "line": line.text,
            "path": list(line.path),
            "event": line.author.event_id if line.author and not line.author.unrecorded else None,
            "unrecorded": bool(line.author and line.author.unrecorded),
            "user": line.author.user if line.author else None,
            "time": format_time(line.author.time) if line.author else None,
            "operation": line.author.operation if line.author else None,
            "fieldManager": line.author.manager if line.author else None,
            "subresource": line.author.subresource if line.author else None,
            "revision": line.author.revision or None if line.author else None,
        }
        for line in lines
    ]

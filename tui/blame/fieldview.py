"""`--fields`: the object's YAML, each line annotated like `git blame` with the event, user,
time and field manager of the write that last changed it."""

from __future__ import annotations

from typing import Any

from tui.blame.terminal import Style, Terminal, clip, clip_left
from tui.core.events import is_machine
from tui.core.fieldblame import Author, BlamedLine, ObjectState
from tui.core.timeparse import format_time

MAX_USER = 24
MAX_MANAGER = 24
UNKNOWN = "?"
SEPARATOR = " | "


def header(key: str, state: ObjectState, writes: int) -> list[str]:
    """`# team-a/Deployment/nginx: 26 recorded writes`, then who created and deleted it."""
    lines = [f"# {key}: {writes} recorded write{'s' if writes != 1 else ''}"]
    if state.creator is not None:
        lines.append(f"# created {_by(state.creator)}")
    else:
        lines.append("# created before the recorded history: lines marked ? predate it")
    if state.deleted_by is not None:
        lines.append(f"# deleted {_by(state.deleted_by)}: this is its last recorded version")
    return lines


def _by(author: Author) -> str:
    return f"by {author.user} at {format_time(author.time)} (event {author.event_id})"


def annotated(lines: list[BlamedLine], terminal: Terminal) -> list[str]:
    authors = [line.author for line in lines if line.author is not None]
    ids = max((len(str(a.event_id)) for a in authors), default=1)
    users = min(max((len(a.user) for a in authors), default=1), MAX_USER)
    managers = min(max((len(a.via) for a in authors), default=1), MAX_MANAGER)
    out = []
    for line in lines:
        note = _note(line.author, ids, users, managers)
        style = Style.DIM if line.author is None or is_machine(line.author.user) else None
        text = terminal.fit(line.text, reserved=len(note) + len(SEPARATOR))
        out.append(terminal.paint(note, style) + SEPARATOR + text)
    return out


def _note(author: Author | None, ids: int, users: int, managers: int) -> str:
    if author is None:
        return f"{UNKNOWN:>{ids}}  {'':<{users}}  {'':<20}  {'':<{managers}}"
    return (
        f"{author.event_id:>{ids}}  {clip_left(author.user, users):<{users}}  "
        f"{format_time(author.time):<20}  {clip(author.via, managers):<{managers}}"
    )


def blame_json(lines: list[BlamedLine]) -> list[dict[str, Any]]:
    """The annotated lines for scripts: text, field path and author of each."""
    return [
        {
            "line": line.text,
            "path": list(line.path),
            "event": line.author.event_id if line.author else None,
            "user": line.author.user if line.author else None,
            "time": format_time(line.author.time) if line.author else None,
            "operation": line.author.operation if line.author else None,
            "fieldManager": line.author.manager if line.author else None,
            "subresource": line.author.subresource if line.author else None,
        }
        for line in lines
    ]

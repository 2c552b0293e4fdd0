"""One object through its recorded history: the version `--at`, `--event` or the latest
shows (as YAML, each line's last writer with `--fields`, JSON, a patch), and the difference
between two versions (`--diff-from`, `--diff-to`, `kubectl logistis diff`)."""

from __future__ import annotations

from typing import Any

from logistis.client.diff import patch_ops, strip_noise, to_yaml, unified_diff
from logistis.client.events import Event
from logistis.client.fieldblame import ObjectState, replay
from logistis.client.timeparse import format_precise, format_time, parse_time
from logistis.kubectl.blame import Blame
from logistis.kubectl.diffview import describe, event_diffs, paint_diff
from logistis.kubectl.errors import BlameError, ExitCode
from logistis.kubectl.fieldview import annotated, blame_json, header
from logistis.kubectl.naming import Naming, kubectl_name
from logistis.kubectl.options import Command, Output


def show_history(blame: Blame, history: list[Event]) -> None:
    """What the options ask of the object whose writes, oldest first, are `history`."""
    o = blame.options
    if o.diff_from is not None or o.diff_to is not None:
        _diff_versions(blame, history)
    elif o.at is not None:
        _show_version(blame, history, _index_at_time(blame, history, o.at))
    elif o.event is not None:
        _show_version(blame, history, _index_of_event(blame, history, o.event))
    else:
        _show_version(blame, history, len(history) - 1)


def event_patch(event: Event, show_noise: bool) -> list[dict[str, Any]]:
    """The RFC 6902 patch a write made, values included (`kubectl patch --type json` takes it)."""
    return patch_ops(event.old_object or {}, event.object or {}, show_noise=show_noise)


def _index_at_time(blame: Blame, history: list[Event], text: str) -> int:
    moment = parse_time(text)
    index = max((i for i, e in enumerate(history) if e.time <= moment), default=None)
    if index is None:
        first = history[0]
        raise BlameError(
            f"{blame.naming.title(first)} was not recorded yet at {format_precise(moment)}: its "
            f"history begins with event {first.id} at {format_precise(first.time)}",
            ExitCode.NOT_RECORDED,
        )
    return index


def _index_of_event(blame: Blame, history: list[Event], event_id: int) -> int:
    for index, event in enumerate(history):
        if event.id == event_id:
            return index
    raise BlameError(
        f"event {event_id} is not a write to {blame.naming.title(history[0])}",
        ExitCode.NOT_RECORDED,
    )


def _index_of(blame: Blame, history: list[Event], spec: str) -> int:
    """A version: an event id (`71`) or a time (RFC 3339, or a duration ago)."""
    if spec.isdigit():
        return _index_of_event(blame, history, int(spec))
    return _index_at_time(blame, history, spec)


def _show_version(blame: Blame, history: list[Event], index: int) -> None:
    o, terminal, naming = blame.options, blame.terminal, blame.naming
    upto = history[: index + 1]
    point = upto[-1]
    if o.output is Output.DIFF:
        blame.emit(
            event_diffs([point], terminal, naming, context=o.context_lines, show_noise=o.show_noise)
        )
        return
    if o.output is Output.PATCH or (o.command is Command.DIFF):
        # The change that made this version: a bare patch, or for scripts with its event.
        patch = event_patch(point, o.show_noise)
        compact = o.output is Output.PATCH
        blame.emit_data(patch if compact else {"event": point.id, "patch": patch}, compact=compact)
        return
    state = replay(upto)
    if o.output in (Output.JSON, Output.YAML) and o.fields:
        blame.emit_data(
            {
                "key": naming.title(point),
                "event": point.id,
                "lines": blame_json(state.lines(show_noise=o.show_noise)),
            }
        )
    elif o.output in (Output.JSON, Output.YAML):
        blame.emit_data(strip_noise(state.object, o.show_noise))
    elif o.output is Output.NAME:
        blame.emit([kubectl_name(point)])
    elif o.fields:
        blame.emit_comments(header(naming.title(point), state, len(upto)))
        blame.emit(annotated(state.lines(show_noise=o.show_noise), terminal))
    else:
        blame.emit_comments(_version_header(naming, point, state, index == len(history) - 1))
        blame.emit_comments(to_yaml(strip_noise(state.object, o.show_noise)).splitlines())


def _version_header(naming: Naming, point: Event, state: ObjectState, latest: bool) -> list[str]:
    which = " (its latest recorded write)" if latest else ""
    lines = [f"# {naming.title(point)} after event {point.id}{which}: {describe(point)}"]
    if state.deleted_by is not None:
        deleter = state.deleted_by
        lines.append(
            f"# deleted by {deleter.user} at {format_time(deleter.time)}: its last version"
        )
    return lines


def _diff_versions(blame: Blame, history: list[Event]) -> None:
    o = blame.options
    start = _index_of(blame, history, o.diff_from) if o.diff_from is not None else 0
    end = _index_of(blame, history, o.diff_to) if o.diff_to is not None else len(history) - 1
    old, new = replay(history[: start + 1]).object, replay(history[: end + 1]).object
    patch = patch_ops(old or {}, new or {}, show_noise=o.show_noise)
    if o.output is Output.PATCH:
        blame.emit_data(patch, compact=True)
        return
    if o.output in (Output.JSON, Output.YAML):
        blame.emit_data({"from": history[start].id, "to": history[end].id, "patch": patch})
        return
    labels = (_version_label(blame, history[start]), _version_label(blame, history[end]))
    lines = unified_diff(old, new, context=o.context_lines, show_noise=o.show_noise, labels=labels)
    if not lines:
        blame.emit_comments([f"# no differences between {labels[0]} and {labels[1]}"])
        return
    blame.emit(paint_diff(lines, blame.terminal))


def _version_label(blame: Blame, event: Event) -> str:
    who = f"({event.user.username}, {format_time(event.time)})"
    return f"{blame.naming.title(event)} after event {event.id} {who}"

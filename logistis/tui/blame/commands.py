"""What `kubectl blame` does with its options, once a collector client is at hand."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from logistis.tui.blame import dump as dumps
from logistis.tui.blame.diffview import describe, event_diffs, paint_diff
from logistis.tui.blame.discovery import discover
from logistis.tui.blame.errors import BlameError, ExitCode
from logistis.tui.blame.eventtable import event_key, event_table, overview_table, wide_table
from logistis.tui.blame.fieldview import annotated, blame_json, header
from logistis.tui.blame.history import in_full, latest_events, latest_of_names, object_history
from logistis.tui.blame.kubeconfig import default_namespace
from logistis.tui.blame.options import Options, Output
from logistis.tui.blame.resolve import (
    BUILTIN_TYPES,
    ResourceType,
    find,
    recorded_types,
    unknown_type,
)
from logistis.tui.blame.terminal import Terminal
from logistis.tui.core.api import CollectorClient, CollectorHTTPError
from logistis.tui.core.diff import patch_ops, strip_noise, to_yaml, unified_diff
from logistis.tui.core.events import Event, EventFilter
from logistis.tui.core.fieldblame import ObjectState, replay
from logistis.tui.core.timeparse import format_precise, format_time, parse_time


@dataclass(frozen=True, slots=True)
class Blame:
    options: Options
    client: CollectorClient
    terminal: Terminal
    environ: Mapping[str, str]

    def emit(self, lines: Sequence[str]) -> None:
        for line in lines:
            self.terminal.write(line)

    def emit_comments(self, lines: Sequence[str]) -> None:
        self.emit([self.terminal.fit(line) for line in lines])

    def emit_data(self, data: Any) -> None:
        self.terminal.write(dumps.dump(data, self.options.output))


async def run(blame: Blame) -> ExitCode:
    o = blame.options
    if o.type is None and o.event is not None:
        await _one_object_at_event(blame, await _event_by_id(blame.client, o.event, o.namespace))
    elif o.type is None:
        await _without_type(blame)
    else:
        rtype = await _resolve(blame, o.type)
        base = EventFilter(namespace=_scope(blame, rtype), kind=rtype.resource, group=rtype.group)
        if o.fields or o.time_travel or o.event is not None:
            await _one_object(blame, base.with_(name=o.names[0]), rtype)
        else:
            await _list(blame, _filtered(base, o), rtype)
    return ExitCode.OK


# -- listings ------------------------------------------------------------------------------


async def _without_type(blame: Blame) -> None:
    o = blame.options
    if o.namespace is None and not o.all_namespaces and not o.filtered:
        summaries = await blame.client.namespaces()
        if o.output in (Output.JSON, Output.YAML):
            blame.emit_data({"items": [dumps.namespace_json(s) for s in summaries]})
        elif not summaries:
            blame.terminal.err.write("No changes recorded yet.\n")
        else:
            blame.emit(overview_table(summaries, blame.terminal))
        return
    await _list(blame, _filtered(EventFilter(namespace=o.namespace), o), None)


async def _list(blame: Blame, filter: EventFilter, rtype: ResourceType | None) -> None:
    o = blame.options
    if o.names:
        events = await latest_of_names(blame.client, filter, o.names, o.limit)
    else:
        events = await latest_events(blame.client, filter, o.limit)
    if not events:
        await _explain_nothing(blame, filter, rtype)
    if o.output in (Output.WIDE, Output.DIFF):
        events = await in_full(blame.client, events)
    _emit_events(blame, events)


def _emit_events(blame: Blame, events: list[Event]) -> None:
    o, terminal = blame.options, blame.terminal
    if o.output in (Output.JSON, Output.YAML):
        blame.emit_data({"items": [dumps.event_json(e) for e in events]})
    elif not events:
        return
    elif o.output is Output.WIDE:
        blame.emit(wide_table(events, terminal, show_noise=o.show_noise))
    elif o.output is Output.DIFF:
        blame.emit(event_diffs(events, terminal, context=o.context_lines, show_noise=o.show_noise))
    else:
        blame.emit(event_table(events, terminal))


async def _explain_nothing(blame: Blame, filter: EventFilter, rtype: ResourceType | None) -> None:
    """No events: an object never recorded is an error; an empty page of a filter is not."""
    o = blame.options
    if rtype is not None and o.names:
        unfiltered = EventFilter(namespace=filter.namespace, kind=filter.kind, group=filter.group)
        recorded = await latest_of_names(blame.client, unfiltered, o.names, 1)
        if not recorded:
            raise BlameError(
                _never_recorded(rtype, o.names, filter.namespace), ExitCode.NOT_RECORDED
            )
    where = "any namespace" if filter.namespace is None else _namespace_text(filter.namespace)
    if o.output not in (Output.JSON, Output.YAML):
        blame.terminal.err.write(f"No changes found in {where}.\n")


def _never_recorded(rtype: ResourceType, names: Sequence[str], namespace: str | None) -> str:
    quoted = ", ".join(f'"{n}"' for n in names)
    return f"{rtype.qualified} {quoted} has no recorded history in {_namespace_text(namespace)}"


def _namespace_text(namespace: str | None) -> str:
    return "the cluster scope" if namespace == "" else f'namespace "{namespace}"'


# -- one object ----------------------------------------------------------------------------


async def _one_object(blame: Blame, filter: EventFilter, rtype: ResourceType) -> None:
    history = await object_history(blame.client, filter)
    if not history:
        raise BlameError(
            _never_recorded(rtype, [filter.name or ""], filter.namespace), ExitCode.NOT_RECORDED
        )
    o = blame.options
    if o.diff_from is not None or o.diff_to is not None:
        _diff_versions(blame, history)
    elif o.at is not None:
        _show_version(blame, history, _index_at_time(history, o.at))
    elif o.event is not None:
        _show_version(blame, history, _index_of_event(history, o.event))
    else:
        _show_version(blame, history, len(history) - 1)


async def _one_object_at_event(blame: Blame, event: Event) -> None:
    r = event.resource
    filter = EventFilter(namespace=event.namespace, kind=r.resource, group=r.group, name=event.name)
    await _one_object(blame, filter, ResourceType(r.group, r.resource, r.kind))


async def _event_by_id(client: CollectorClient, event_id: int, namespace: str | None) -> Event:
    try:
        return await client.event(event_id, namespace)
    except CollectorHTTPError as error:
        if error.status == 404:
            raise BlameError(f"event {event_id} is not recorded", ExitCode.NOT_RECORDED) from None
        raise


def _index_at_time(history: list[Event], text: str) -> int:
    moment = parse_time(text)
    index = max((i for i, e in enumerate(history) if e.time <= moment), default=None)
    if index is None:
        first = history[0]
        raise BlameError(
            f"{event_key(first)} was not recorded yet at {format_precise(moment)}: its history begins "
            f"with event {first.id} at {format_precise(first.time)}",
            ExitCode.NOT_RECORDED,
        )
    return index


def _index_of_event(history: list[Event], event_id: int) -> int:
    for index, event in enumerate(history):
        if event.id == event_id:
            return index
    raise BlameError(
        f"event {event_id} is not a write to {event_key(history[0])}", ExitCode.NOT_RECORDED
    )


def _index_of(history: list[Event], spec: str) -> int:
    """A version: an event id (`71`) or a time (RFC 3339, or a duration ago)."""
    if spec.isdigit():
        return _index_of_event(history, int(spec))
    return _index_at_time(history, spec)


def _show_version(blame: Blame, history: list[Event], index: int) -> None:
    o, terminal = blame.options, blame.terminal
    upto = history[: index + 1]
    state = replay(upto)
    point = upto[-1]
    if o.output is Output.DIFF:
        blame.emit(event_diffs([point], terminal, context=o.context_lines, show_noise=o.show_noise))
    elif o.output in (Output.JSON, Output.YAML) and o.fields:
        blame.emit_data(
            {
                "key": event_key(point),
                "event": point.id,
                "lines": blame_json(state.lines(show_noise=o.show_noise)),
            }
        )
    elif o.output in (Output.JSON, Output.YAML):
        blame.emit_data(strip_noise(state.object, o.show_noise))
    elif o.fields:
        blame.emit_comments(header(event_key(point), state, len(upto)))
        blame.emit(annotated(state.lines(show_noise=o.show_noise), terminal))
    else:
        blame.emit_comments(_version_header(point, state, index == len(history) - 1))
        blame.emit_comments(to_yaml(strip_noise(state.object, o.show_noise)).splitlines())


def _version_header(point: Event, state: ObjectState, latest: bool) -> list[str]:
    which = " (its latest recorded write)" if latest else ""
    lines = [f"# {event_key(point)} after event {point.id}{which}: {describe(point)}"]
    if state.deleted_by is not None:
        deleter = state.deleted_by
        lines.append(
            f"# deleted by {deleter.user} at {format_time(deleter.time)}: its last version"
        )
    return lines


def _diff_versions(blame: Blame, history: list[Event]) -> None:
    o = blame.options
    start = _index_of(history, o.diff_from) if o.diff_from is not None else 0
    end = _index_of(history, o.diff_to) if o.diff_to is not None else len(history) - 1
    old, new = replay(history[: start + 1]).object, replay(history[: end + 1]).object
    if o.output in (Output.JSON, Output.YAML):
        blame.emit_data(
            {
                "from": history[start].id,
                "to": history[end].id,
                "patch": patch_ops(old or {}, new or {}, show_noise=o.show_noise),
            }
        )
        return
    labels = (_version_label(history[start]), _version_label(history[end]))
    lines = unified_diff(old, new, context=o.context_lines, show_noise=o.show_noise, labels=labels)
    if not lines:
        blame.emit_comments([f"# no differences between {labels[0]} and {labels[1]}"])
        return
    blame.emit(paint_diff(lines, blame.terminal))


def _version_label(event: Event) -> str:
    return f"{event_key(event)} after event {event.id} ({event.user.username}, {format_time(event.time)})"


# -- types and scope -----------------------------------------------------------------------


async def _resolve(blame: Blame, text: str) -> ResourceType:
    builtin = find(text, BUILTIN_TYPES)
    if builtin is not None:
        return builtin
    facets = await blame.client.facets(EventFilter())
    found = find(text, recorded_types(facets.kinds))
    if found is None and blame.options.url is None:
        # Through a port-forward there is a cluster to ask; with --url there may be none.
        o = blame.options
        found = find(text, await discover(context=o.context, kubeconfig=o.kubeconfig))
    if found is None:
        raise unknown_type(text)
    if found.namespaced is not None:
        return found
    # A custom resource's scope shows in where its events were filed.
    seen = await blame.client.facets(EventFilter(kind=found.resource, group=found.group))
    return replace(found, namespaced=any(n.value for n in seen.namespaces))


def _scope(blame: Blame, rtype: ResourceType) -> str | None:
    """The namespace filter: `""` for cluster-scoped types, None for all namespaces."""
    o = blame.options
    if rtype.namespaced is False:
        return ""
    if o.all_namespaces:
        return None
    return o.namespace or default_namespace(o.kubeconfig, o.context, blame.environ)


def _filtered(base: EventFilter, o: Options) -> EventFilter:
    return base.with_(
        user=o.user,
        operation=o.operation,
        since=o.since,
        until=o.until,
        people=True if o.people else None,
    )

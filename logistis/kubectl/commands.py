"""What `kubectl blame` and `kubectl logistis` do with their options, once a collector client
is at hand."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from logistis.client.events import Event, EventFilter
from logistis.client.history import in_full, latest_events, latest_of_names, object_history
from logistis.client.live import LinkState, LinkStatus, follow
from logistis.client.people import machine_events_left_out
from logistis.client.protocol import CollectorHTTPError, HistoryClient
from logistis.kubectl import dump as dumps
from logistis.kubectl.blame import Blame
from logistis.kubectl.diffview import describe, event_diffs
from logistis.kubectl.discovery import discover
from logistis.kubectl.errors import BlameError, ExitCode
from logistis.kubectl.eventtable import event_table, overview_table, wide_table
from logistis.kubectl.history import labelled
from logistis.kubectl.kubeconfig import default_namespace
from logistis.kubectl.naming import Naming, kubectl_name
from logistis.kubectl.options import Command, Dialect, Options, Output
from logistis.kubectl.resolve import (
    BUILTIN_TYPES,
    ResourceType,
    find,
    recorded_types,
    unknown_type,
)
from logistis.kubectl.top import top
from logistis.kubectl.versions import event_patch, show_history
from logistis.kubectl.who import who

# Namespaces named in a hint that the history is elsewhere.
MAX_HINTED = 3


async def run(blame: Blame) -> ExitCode:
    o = blame.options
    blame = replace(blame, naming=Naming(o.dialect))
    if o.type is None and o.event is not None:
        await _one_object_at_event(blame, await _event_by_id(blame.client, o.event, o.namespace))
        return ExitCode.OK
    rtype = await _resolve(blame, o.type) if o.type is not None else None
    if rtype is None:
        base = EventFilter(namespace=_untyped_scope(blame))
    else:
        base = EventFilter(namespace=_scope(blame, rtype), kind=rtype.resource, group=rtype.group)
    if o.command is Command.WHO:
        await who(blame.client, _filtered(base, o), o, blame.terminal)
    elif o.command is Command.TOP:
        # Every actor by default: its first table sets people against automation.
        everyone = _filtered(base, o).with_(people=True if o.people else None)
        await top(blame.client, everyone, o, blame.terminal)
    elif rtype is None:
        await _without_type(blame, base)
    elif o.fields or o.time_travel or o.event is not None or o.command is Command.DIFF:
        await _one_object(blame, base.with_(name=o.names[0]), rtype)
    else:
        await _list(blame, _filtered(base, o), rtype)
    return ExitCode.OK


# -- listings ------------------------------------------------------------------------------


async def _without_type(blame: Blame, base: EventFilter) -> None:
    o = blame.options
    overview = o.command is Command.BLAME and o.namespace is None and not o.all_namespaces
    if overview and not o.filtered and not o.watch:
        summaries = await blame.client.namespaces()
        if o.output in (Output.JSON, Output.YAML):
            blame.emit_data({"items": [dumps.namespace_json(s) for s in summaries]})
        elif not summaries:
            blame.note("No changes recorded yet.")
        else:
            blame.emit(overview_table(summaries, blame.terminal, headers=not o.no_headers))
        return
    await _list(blame, _filtered(base, o), None)


async def _list(blame: Blame, filter: EventFilter, rtype: ResourceType | None) -> None:
    o = blame.options
    spans = filter.namespace is None and blame.naming.kubectl  # kubectl get -A's NAMESPACE column
    blame = replace(blame, naming=replace(blame.naming, namespace_column=spans))
    events, total = await _find(blame, filter)
    await _report_counts(blame, filter, len(events), total)
    if not events and not o.watch:
        await _explain_nothing(blame, filter, rtype)
    _emit_events(blame, await _fetched(blame, events), headers=not o.no_headers)
    if o.watch:
        await _watch(blame, filter, max((e.id for e in events), default=None), bool(events))


async def _find(blame: Blame, filter: EventFilter) -> tuple[list[Event], int | None]:
    """The newest events to show, and how many there are when that is known already."""
    o, client = blame.options, blame.client
    # A label selector is matched on the client: every event of the filter is looked at.
    limit = None if o.selector else o.limit
    if o.names:
        events = await latest_of_names(client, filter, o.names, limit)
    else:
        events = await latest_events(client, filter, limit)
    if o.selector is None:
        return events, None
    matching = await labelled(client, events, o.selector)
    return matching[: o.limit], len(matching)


async def _report_counts(blame: Blame, filter: EventFilter, shown: int, total: int | None) -> None:
    """On stderr, so stdout stays pipeable: a list cut by --limit, and the machines' events a
    people-only list left out."""
    o = blame.options
    filters = [filter.with_(name=name) for name in o.names] or [filter]
    if total is None and shown == o.limit:
        total = sum([(await blame.client.facets(f)).total for f in filters])
    if total is not None and total > shown:
        blame.note(f"{shown} of {total} changes shown: --limit {total} shows them all")
    if o.selector is not None:
        return  # the collector cannot count by labels
    left_out = sum([await machine_events_left_out(blame.client, f) for f in filters])
    if left_out:
        show = "--all-actors" if o.dialect is Dialect.KUBECTL else "without --people"
        blame.note(
            f"{left_out} changes by controllers, service accounts and other system:* users "
            f"left out: {show} shows them"
        )


async def _fetched(blame: Blame, events: list[Event]) -> list[Event]:
    """The events with their objects, where the output shows values."""
    if blame.options.output in (Output.WIDE, Output.DIFF, Output.PATCH):
        return await in_full(blame.client, events)
    return events


def _emit_events(blame: Blame, events: list[Event], *, headers: bool) -> None:
    o, terminal, naming = blame.options, blame.terminal, blame.naming
    if o.output in (Output.JSON, Output.YAML):
        blame.emit_data({"items": [dumps.event_json(e) for e in events]})
    elif not events:
        return
    elif o.output is Output.NAME:
        blame.emit(list(dict.fromkeys(kubectl_name(e) for e in events)))
    elif o.output is Output.PATCH:
        for event in events:
            blame.emit([f"# event {event.id}  {naming.title(event)}  {describe(event)}"])
            blame.emit_data(event_patch(event, o.show_noise), compact=True)
    elif o.output is Output.WIDE:
        blame.emit(wide_table(events, terminal, naming, show_noise=o.show_noise, headers=headers))
    elif o.output is Output.DIFF:
        blame.emit(
            event_diffs(events, terminal, naming, context=o.context_lines, show_noise=o.show_noise)
        )
    else:
        one_line = o.command is Command.LOG
        blame.emit(event_table(events, terminal, naming, headers=headers, one_line=one_line))


async def _watch(blame: Blame, filter: EventFilter, after: int | None, headed: bool) -> None:
    """New changes as they are recorded, until interrupted; a dropped stream is resumed after
    the last change shown, so none is missed or shown twice."""
    o = blame.options
    blame.terminal.out.flush()  # the list first, before waiting for what comes next
    live = filter if len(o.names) != 1 else filter.with_(name=o.names[0])
    async for event in follow(blame.client, live, after, lambda status: _link(blame, status)):
        if o.names and event.name not in o.names:
            continue
        if o.selector and not await labelled(blame.client, [event], o.selector):
            continue
        if o.output in (Output.JSON, Output.YAML):
            blame.emit_data(dumps.event_json(event))
        else:
            _emit_events(
                blame, await _fetched(blame, [event]), headers=not (headed or o.no_headers)
            )
        headed = True
        blame.terminal.out.flush()


def _link(blame: Blame, status: LinkStatus) -> None:
    if status.state is LinkState.RECONNECTING:
        blame.note(f"warning: {status.reason}; reconnecting in {status.retry_in:.0f}s")


async def _explain_nothing(blame: Blame, filter: EventFilter, rtype: ResourceType | None) -> None:
    """No events: an object never recorded is an error; an empty page of a filter is not.
    Either says where the same search does find history, when another namespace has it."""
    o = blame.options
    if rtype is not None and o.names:
        unfiltered = EventFilter(namespace=filter.namespace, kind=filter.kind, group=filter.group)
        recorded = await latest_of_names(blame.client, unfiltered, o.names, 1)
        if not recorded:
            hint = await _elsewhere(blame, unfiltered)
            raise BlameError(
                _never_recorded(rtype, o.names, filter.namespace) + hint, ExitCode.NOT_RECORDED
            )
    where = "any namespace" if filter.namespace is None else _namespace_text(filter.namespace)
    if o.output not in (Output.JSON, Output.YAML):
        blame.note(f"No changes found in {where}{await _elsewhere(blame, filter)}.")


async def _elsewhere(blame: Blame, filter: EventFilter) -> str:
    """`; found in team-a: use -n team-a or -A`, when other namespaces match the filter."""
    if not filter.namespace:
        return ""
    names = blame.options.names or (None,)
    found: dict[str, int] = {}
    for name in names:
        facets = await blame.client.facets(filter.with_(namespace=None, name=name))
        for namespace in facets.namespaces:
            if namespace.value and namespace.count:
                found[namespace.value] = found.get(namespace.value, 0) + namespace.count
    if not found:
        return ""
    ranked = sorted(found, key=lambda n: (-found[n], n))
    shown = ", ".join(ranked[:MAX_HINTED]) + (", ..." if len(ranked) > MAX_HINTED else "")
    return f"; found in {shown}: use -n {ranked[0]} or -A"


def _never_recorded(rtype: ResourceType, names: Sequence[str], namespace: str | None) -> str:
    quoted = ", ".join(f'"{n}"' for n in names)
    return f"{rtype.qualified} {quoted} has no recorded history in {_namespace_text(namespace)}"


def _namespace_text(namespace: str | None) -> str:
    return "the cluster scope" if namespace == "" else f'namespace "{namespace}"'


# -- one object ----------------------------------------------------------------------------


async def _one_object(blame: Blame, filter: EventFilter, rtype: ResourceType) -> None:
    history = await object_history(blame.client, filter)
    if not history:
        hint = await _elsewhere(blame, filter.with_(name=None))
        raise BlameError(
            _never_recorded(rtype, [filter.name or ""], filter.namespace) + hint,
            ExitCode.NOT_RECORDED,
        )
    show_history(blame, history)


async def _one_object_at_event(blame: Blame, event: Event) -> None:
    r = event.resource
    filter = EventFilter(namespace=event.namespace, kind=r.resource, group=r.group, name=event.name)
    await _one_object(blame, filter, ResourceType(r.group, r.resource, r.kind))


async def _event_by_id(client: HistoryClient, event_id: int, namespace: str | None) -> Event:
    try:
        return await client.event(event_id, namespace)
    except CollectorHTTPError as error:
        if error.status == 404:
            raise BlameError(f"event {event_id} is not recorded", ExitCode.NOT_RECORDED) from None
        raise


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


def _untyped_scope(blame: Blame) -> str | None:
    """Without TYPE: kubectl logistis looks where kubectl would (-n, else the context's
    namespace; -A for all), kubectl-blame everywhere unless -n says where."""
    o = blame.options
    if o.all_namespaces or (o.dialect is Dialect.ORIGINAL and o.namespace is None):
        return None
    return o.namespace or default_namespace(o.kubeconfig, o.context, blame.environ)


def _filtered(base: EventFilter, o: Options) -> EventFilter:
    return base.with_(
        user=o.user,
        operation=o.operation,
        since=o.since,
        until=o.until,
        people=True if o.people_only else None,
        actor=o.actor,
        tool=o.tool,
        hand_edit=True if o.hand_edits else None,
        managed_by=o.managed_by,
    )

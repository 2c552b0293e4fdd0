"""`kubectl logistis top`: the most active people, namespaces, kinds and objects over a
period, with people against automation, from the collector's insights."""

from __future__ import annotations

from typing import Any

from logistis.client.events import EventFilter
from logistis.client.insights import ACTOR_KINDS, Insights
from logistis.client.protocol import HistoryClient
from logistis.client.timeparse import format_time
from logistis.kubectl import dump as dumps
from logistis.kubectl.eventtable import CLUSTER_SCOPE, USER_CAP
from logistis.kubectl.naming import object_name
from logistis.kubectl.options import DEFAULT_LIMIT, Options, Output
from logistis.kubectl.table import Column, render_table
from logistis.kubectl.terminal import Terminal

# Entries per list: `--limit`'s default is for lists of events, ten reads better here.
DEFAULT_TOP = 10
MAX_TOP = 100


async def top(client: HistoryClient, filter: EventFilter, o: Options, terminal: Terminal) -> None:
    count = DEFAULT_TOP if o.limit == DEFAULT_LIMIT else min(o.limit, MAX_TOP)
    found = await client.insights(filter, top=count)
    if o.output in (Output.JSON, Output.YAML):
        terminal.write(dumps.dump(top_json(found), o.output))
    elif o.output is Output.NAME:
        for entry in found.top_objects:
            terminal.write(object_name(entry.kind, entry.group, entry.name))
    elif found.total:
        sections = _sections(found, spans=filter.namespace is None)
        for number, (columns, rows) in enumerate(sections):
            if number:
                terminal.write("")
            for line in render_table(columns, rows, terminal, headers=not o.no_headers):
                terminal.write(line)
    _report(found, terminal)


def top_json(found: Insights) -> dict[str, Any]:
    return {
        "since": format_time(found.since),
        "until": format_time(found.until),
        "total": found.total,
        "byActor": dict(found.by_actor),
        "handEdits": found.hand_edits,
        "topPeople": [{"user": p.value, "count": p.count} for p in found.top_people],
        "topNamespaces": [{"namespace": n.value, "count": n.count} for n in found.top_namespaces],
        "topKinds": [
            {"group": k.group, "resource": k.resource, "kind": k.kind, "count": k.count}
            for k in found.top_kinds
        ],
        "topObjects": [
            {"group": e.group, "resource": e.resource, "kind": e.kind, "namespace": e.namespace,
             "name": e.name, "count": e.count}
            for e in found.top_objects
        ],
    }  # fmt: skip


Section = tuple[list[Column], list[list[str]]]


def _sections(found: Insights, *, spans: bool) -> list[Section]:
    changes = Column("CHANGES")
    actors = [[kind, str(found.by_actor[kind])] for kind in ACTOR_KINDS]
    people = [[p.value, str(p.count)] for p in found.top_people]
    namespaces = [[n.value or CLUSTER_SCOPE, str(n.count)] for n in found.top_namespaces]
    kinds = [
        [f"{k.resource}.{k.group}" if k.group else k.resource, str(k.count)]
        for k in found.top_kinds
    ]
    objects = [
        [*([e.namespace or CLUSTER_SCOPE] if spans else []),
         object_name(e.kind, e.group, e.name), str(e.count)]
        for e in found.top_objects
    ]  # fmt: skip
    object_columns = [*([Column("NAMESPACE")] if spans else []), Column("OBJECT", shrink=True)]
    sections: list[Section] = [
        ([Column("ACTOR"), changes], actors),
        ([Column("USER", shrink=True, keep_end=True, min_width=12, cap=USER_CAP), changes], people),
        ([Column("NAMESPACE"), changes], namespaces if spans else []),
        ([Column("TYPE"), changes], kinds),
        ([*object_columns, changes], objects),
    ]
    return [(columns, rows) for columns, rows in sections if rows]


def _report(found: Insights, terminal: Terminal) -> None:
    if not found.total:
        terminal.err.write("No changes found.\n")
        return
    terminal.err.write(
        f"{found.total} changes from {format_time(found.since)} to {format_time(found.until)},"
        f" {found.hand_edits} of them hand edits of managed objects\n"
    )

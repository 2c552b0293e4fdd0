"""`kubectl logistis who`: the people who changed things in a namespace over a period, most
active first, with when they last did and what kinds they touched."""

from __future__ import annotations

import asyncio

from logistis.client.events import EventFilter, Facets, ValueCount
from logistis.client.people import machine_events_left_out
from logistis.client.protocol import HistoryClient
from logistis.client.timeparse import format_time
from logistis.kubectl import dump as dumps
from logistis.kubectl.eventtable import CLUSTER_SCOPE, USER_CAP, top_kinds
from logistis.kubectl.options import Options, Output
from logistis.kubectl.table import Column, render_table
from logistis.kubectl.terminal import Terminal

# Users asked about at once: each costs two requests.
PARALLEL = 8


async def who(client: HistoryClient, filter: EventFilter, o: Options, terminal: Terminal) -> None:
    everyone = await client.facets(filter)
    users = sorted(everyone.users, key=lambda u: (-u.count, u.value))
    shown = users[: o.limit]
    gate = asyncio.Semaphore(PARALLEL)
    rows = await asyncio.gather(*(_activity(client, filter, user, gate) for user in shown))
    if o.output in (Output.JSON, Output.YAML):
        terminal.write(dumps.dump({"items": [row.to_json() for row in rows]}, o.output))
    elif o.output is Output.NAME:
        for row in rows:
            terminal.write(row.user.value)
    elif rows:
        for line in _table(rows, terminal, headers=not o.no_headers):
            terminal.write(line)
    await _report(client, filter, terminal, len(shown), len(users))


class _Activity:
    """One user's part of the history the filter selects."""

    def __init__(self, user: ValueCount, facets: Facets, last: str) -> None:
        self.user, self.facets, self.last = user, facets, last

    def kinds(self) -> str:
        return top_kinds({k.kind: k.count for k in self.facets.kinds})

    def namespaces(self) -> str:
        ranked = sorted(self.facets.namespaces, key=lambda n: (-n.count, n.value))
        return ", ".join(n.value or CLUSTER_SCOPE for n in ranked)

    def to_json(self) -> dict[str, object]:
        return {
            "user": self.user.value,
            "changes": self.user.count,
            "lastChange": self.last,
            "namespaces": {n.value: n.count for n in self.facets.namespaces},
            "kinds": {k.kind: k.count for k in self.facets.kinds},
        }


async def _activity(
    client: HistoryClient, filter: EventFilter, user: ValueCount, gate: asyncio.Semaphore
) -> _Activity:
    mine = filter.with_(user=_exactly(user.value))
    async with gate:
        facets, page = await asyncio.gather(client.facets(mine), client.events(mine, limit=1))
    last = format_time(page.items[0].time) if page.items else "-"
    return _Activity(user, facets, last)


def _exactly(username: str) -> str:
    """The user filter for this name only: a name with `*` or `[` would be read as a glob,
    where `[c]` is a literal c."""
    if "*" not in username and "[" not in username:
        return username
    return "".join(f"[{c}]" if c in "*[?" else c for c in username)


def _table(rows: list[_Activity], terminal: Terminal, *, headers: bool) -> list[str]:
    columns = [
        Column("USER", shrink=True, keep_end=True, min_width=12, cap=USER_CAP),
        Column("CHANGES"),
        Column("LAST CHANGE"),
        Column("NAMESPACES", shrink=True),
        Column("KINDS", shrink=True),
    ]
    cells = [
        [row.user.value, str(row.user.count), row.last, row.namespaces(), row.kinds()]
        for row in rows
    ]
    return render_table(columns, cells, terminal, headers=headers)


async def _report(
    client: HistoryClient, filter: EventFilter, terminal: Terminal, shown: int, total: int
) -> None:
    if total > shown:
        terminal.err.write(f"{shown} of {total} users shown: --limit {total} shows them all\n")
    if not total:
        terminal.err.write("No changes found.\n")
    left_out = await machine_events_left_out(client, filter)
    if left_out:
        terminal.err.write(
            f"{left_out} changes by controllers, service accounts and other system:* users "
            "left out: --all-actors shows them\n"
        )

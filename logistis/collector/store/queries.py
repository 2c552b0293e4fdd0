"""The reads both stores answer alike: pages, the stream's read, one event, the aggregates.

Each store gives its SQL module (the same statement names, each in its own dialect) and a
`_fetch` that runs one statement with `?` placeholders on a read connection.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from types import ModuleType
from typing import Any

import orjson

from logistis.collector.history.actors import Actor
from logistis.collector.history.continuity import Ops, Step
from logistis.collector.history.events import MACHINE_PREFIX, Event, JSONObject, time_to_ms
from logistis.collector.history.gitops import GitOpsSettings, ManagedBy, Revision
from logistis.collector.history.insights import Activity, Window, at_ms
from logistis.collector.history.judgements import Judged, Judgement, Neighbours
from logistis.collector.history.provenance import Author, Derived, Identity, Provenance
from logistis.collector.history.query import MAX_ID, EventQuery, Page, encode_cursor
from logistis.collector.history.runs import Run
from logistis.collector.store import aggregates, codec, insight_counts, insights_sql
from logistis.collector.store.aggregates import Facets, Insights, NamespaceCount, Ranked
from logistis.collector.store.handoff import HandOff
from logistis.collector.store.protocol import Underived
from logistis.collector.store.rows import PENDING, summary_from_row, with_objects
from logistis.collector.store.where import where_clause

Rows = Sequence[Sequence[Any]]


class SQLQueries:
    _sql: ModuleType
    _handoff: HandOff
    """The objects of the groups this store committed, for the deriver's read."""
    gitops: GitOpsSettings = GitOpsSettings()
    """How events' actors and managing tools are told (collector/history/provenance.py)."""

    async def _fetch(self, statement: str, params: Sequence[Any] = ()) -> Rows:
        raise NotImplementedError

    async def list_events(self, query: EventQuery, page: Page) -> tuple[list[Event], str | None]:
        extra: list[tuple[str, list[object]]] = (
            [("id < ?", [page.before_id])] if page.before_id is not None else []
        )
        where, params = where_clause(query, self._sql.DIALECT, extra)
        rows = await self._fetch(
            f"{self._sql.SELECT_SUMMARIES} {where} ORDER BY id DESC LIMIT ?",
            [*params, page.limit + 1],
        )
        events = await _summaries(rows[: page.limit])
        next_cursor = encode_cursor(events[-1].id) if len(rows) > page.limit else None
        return events, next_cursor

    async def events_after(self, after_id: int, query: EventQuery, limit: int) -> list[Event]:
        where, params = where_clause(query, self._sql.DIALECT, [("id > ?", [after_id])])
        rows = await self._fetch(
            f"{self._sql.SELECT_SUMMARIES} {where} ORDER BY id LIMIT ?", [*params, limit]
        )
        return await _summaries(rows)

    async def get_event(self, event_id: int) -> Event | None:
        rows = await self._fetch(self._sql.SELECT_DETAIL, (event_id,))
        if not rows:
            return None
        return with_objects(summary_from_row(rows[0]), rows[0][-1])

    async def get_events(self, ids: Sequence[int]) -> list[Event]:
        rows = await self._fetch(self._sql.SELECT_DETAILS, (_id_list(ids),))
        return [with_objects(summary_from_row(row), row[-1]) for row in rows]

    def hand_off_nothing(self) -> None:
        """Keep no committed objects for a deriver: none runs in this process."""
        self._handoff = HandOff(0)

    async def underived(self, after: int | None, limit: int) -> tuple[list[Underived], int, int]:
        # The newest id first: every event up to it is committed, so reading up to it alone
        # sees each one that the mark will pass.
        _, mark, newest = (await self._fetch(self._sql.SELECT_DERIVE_STATE))[0]
        start = int(mark) if after is None else after
        rows = await self._fetch(self._sql.SELECT_UNDERIVED, (start, newest, limit))
        return self._handoff.fill([_underived(row) for row in rows]), start, int(newest)

    async def last_id(self) -> int:
        rows = await self._fetch(self._sql.SELECT_LAST_ID)
        return int(rows[0][0])

    async def count(self, up_to_id: int) -> int:
        rows = await self._fetch(self._sql.SELECT_COUNT_UP_TO, (up_to_id,))
        return int(rows[0][0])

    async def known_kinds(self) -> dict[tuple[str, str], str]:
        rows = await self._fetch(self._sql.SELECT_KNOWN_KINDS)
        return {(grp, resource): kind for grp, resource, kind in rows}

    async def namespaces(self) -> list[NamespaceCount]:
        # The statements at once, on read connections of their own.
        counts, kind_rows, hand_edits = await asyncio.gather(
            self._fetch(self._sql.SELECT_NAMESPACES),
            self._fetch(self._sql.SELECT_NAMESPACE_KINDS),
            self._fetch(self._sql.SELECT_NAMESPACE_HAND_EDITS),
        )
        return aggregates.namespace_counts(counts, kind_rows, hand_edits)

    async def facets(self, query: EventQuery) -> Facets:
        sql = self._sql
        if query.needs_events:
            inner_where, params = where_clause(query, sql.DIALECT)
            source, where = sql.FACET_SOURCE_EVENTS.format(where=inner_where), ""
        else:
            source = sql.FACET_SOURCE_STATS
            where, params = where_clause(query, sql.DIALECT)

        async def facet(columns: str) -> Rows:
            statement = sql.SELECT_FACET.format(
                columns=columns, source=source, where=where, bytewise=sql.bytewise(columns)
            )
            return await self._fetch(statement, params)

        # The four aggregates run at once, one per read connection.
        users, kinds, namespaces, operations = await asyncio.gather(
            facet("username"), facet("grp, resource, kind"), facet("namespace"), facet("operation")
        )
        return aggregates.facets(users, kinds, namespaces, operations)

    async def first_time_ms(self) -> int | None:
        rows = await self._fetch(insights_sql.FIRST_TIME)
        return int(rows[0][0]) if rows else None

    async def insights(self, query: EventQuery, window: Window, top: int) -> Insights:
        if insight_counts.covers(query):
            return await self._counted_insights(query, window, top)
        source, params = self._source(query)
        # The statements at once, on read connections of their own.
        units, people, namespaces, kinds, objects, marks = await asyncio.gather(
            self._fetch(insights_sql.ACTIVITY.format(source=source), [window.unit_ms, *params]),
            self._ranked("username", replace(query, people=True), top),
            self._ranked("namespace", query, top),
            self._ranked("grp, resource, kind", query, top),
            self._top_objects(query, top),
            self._fetch(insights_sql.MARKS.format(source=source), params),
        )
        activity = Activity(window)
        activity.add(units)
        return Insights(activity, people, namespaces, kinds, objects, _marks(marks))

    def _source(self, query: EventQuery) -> tuple[str, list[object]]:
        """The events `query` selects, as the insights' statements read them, and its
        parameters."""
        where, params = where_clause(query, self._sql.DIALECT)
        return insights_sql.SOURCE.format(where=where), params

    async def _top_objects(self, query: EventQuery, top: int) -> list[Ranked]:
        """The objects with the most events: among those of more than one if there are enough
        of them (insights_sql.TOP_REPEATED), else among all."""
        repeated = await self._ranked(_OBJECT, query, top, insights_sql.TOP_REPEATED)
        return repeated if len(repeated) == top else await self._ranked(_OBJECT, query, top)

    async def _ranked(
        self, columns: str, query: EventQuery, top: int, statement: str = insights_sql.TOP
    ) -> list[Ranked]:
        source, params = self._source(query)
        statement = statement.format(
            columns=columns, source=source, bytewise=self._sql.bytewise(columns)
        )
        rows = await self._fetch(statement, [*params, top])
        return [Ranked(tuple(row[:-1]), int(row[-1])) for row in rows]

    async def _counted_insights(self, query: EventQuery, window: Window, top: int) -> Insights:
        """The insights from the counts per bucket (collector/store/insight_counts.py), and
        from the events for what no count covers; marks from the events."""
        source, params = self._source(query)
        span = time_to_ms(window.since), time_to_ms(window.until)
        many = not query.namespaces and await self._many(span)
        judged, judged_params = where_clause(query, self._sql.DIALECT, [("id = j.id", [])])
        marks = (
            self._fetch(insights_sql.MARKS_JUDGED.format(where=judged), judged_params)
            if many
            else self._fetch(insights_sql.MARKS.format(source=source), params)
        )
        objects = self._busiest_objects(query, span, top) if many else self._top_objects(query, top)
        # The statements at once, on read connections of their own.
        units, people, namespaces, kinds, ranked_objects, marked = await asyncio.gather(
            self._counted_activity(query, window, span),
            self._summed("username", replace(query, people=True), span, top),
            self._summed("namespace", query, span, top),
            self._summed("grp, resource, kind", query, span, top),
            objects,
            marks,
        )
        activity = Activity(window)
        activity.add(units)
        return Insights(activity, people, namespaces, kinds, ranked_objects, _marks(marked))

    async def _many(self, span: tuple[int, int]) -> bool:
        """Whether the span holds many events of all namespaces (insight_counts.MANY)."""
        hour = insight_counts.HOUR_MS
        params = [hour, span[0] - span[0] % hour, span[1], insight_counts.ALL]
        rows = await self._fetch(insights_sql.COUNTED_ABOUT, params)
        return int(rows[0][0] or 0) > insight_counts.MANY

    async def _counted_activity(
        self, query: EventQuery, window: Window, span: tuple[int, int]
    ) -> list[Sequence[Any]]:
        """Rows of (unit, actor or None, events, hand edits) over the span, as ACTIVITY gives
        them."""
        unit = window.unit_ms
        scopes, grains = insight_counts.activity_grains(query, unit)

        async def tile(grain: int | None, start: int, end: int) -> Rows:
            if grain is None:
                source, params = self._source(_within(query, start, end))
                statement = insights_sql.ACTIVITY.format(source=source)
                return await self._fetch(statement, [unit, *params])
            statement = insights_sql.COUNTED_ACTIVITY.format(scopes=_placeholders(scopes))
            rows = await self._fetch(statement, [unit, grain, start, end, *scopes])
            return insight_counts.partitioned(rows)

        found = await asyncio.gather(*(tile(*t) for t in insight_counts.tiles(*span, grains)))
        return [row for rows in found for row in rows]

    async def _summed(
        self, columns: str, query: EventQuery, span: tuple[int, int], top: int
    ) -> list[Ranked]:
        """A top list from the hours' and days' counts, and the events at the edges; of
        namespaces asked for, users and kinds from their events."""
        if query.namespaces and columns != "namespace":
            return await self._ranked(columns, query, top)

        async def tile(grain: int | None, start: int, end: int) -> Rows:
            if grain is None:
                source, params = self._source(_within(query, start, end))
                statement = insights_sql.GROUPS.format(columns=columns, source=source)
                return await self._fetch(statement, params)
            if columns == "username":
                return await self._fetch(
                    insights_sql.COUNTED_PEOPLE, [grain, start, end, MACHINE_PREFIX]
                )
            if columns != "namespace":
                return await self._fetch(insights_sql.COUNTED_KINDS, [grain, start, end])
            asked = query.namespaces
            namespaces = (
                insights_sql.NAMESPACES_ASKED.format(scopes=_placeholders(asked))
                if asked
                else insights_sql.NAMESPACES_ALL
            )
            statement = insights_sql.COUNTED_NAMESPACES.format(namespaces=namespaces)
            return await self._fetch(statement, [*asked, grain, start, end])

        tiled = insight_counts.tiles(*span, insight_counts.TOPS_GRAINS)
        found = await asyncio.gather(*(tile(*t) for t in tiled))
        return insight_counts.ranked((row for rows in found for row in rows), top)

    async def _busiest_objects(
        self, query: EventQuery, span: tuple[int, int], top: int
    ) -> list[Ranked]:
        """The top objects of a span of many events, of all namespaces: the span's events of
        the objects with the most events kept, a page at a time, until no object left can
        have more than the last of the top (it has no more in the span than it has kept); from
        all the span's events when that takes too many pages."""
        counted: list[Sequence[Any]] = []
        # Each page is a statement of its own: a write between two may move an object from
        # one page to the next, and it is counted once.
        seen: set[tuple[str, str, str, str]] = set()
        for offset in range(0, insight_counts.OBJECTS_READ, insight_counts.OBJECTS_PAGE):
            page = await self._fetch(
                insights_sql.BUSIEST_OBJECTS, [insight_counts.OBJECTS_PAGE, offset]
            )
            keys = {(grp, resource, ns, name) for ns, name, resource, grp, _ in page} - seen
            seen |= keys
            wanted = [(key, MAX_ID) for key in keys]
            counted += await self._fetch(self._sql.SELECT_OBJECT_COUNTS, [_wanted(wanted), *span])
            ranked = insight_counts.ranked(counted, top)
            if len(page) < insight_counts.OBJECTS_PAGE:
                return ranked
            if len(ranked) == top and ranked[-1].count > int(page[-1][-1]):
                return ranked
        return await self._top_objects(query, top)

    # -- continuity and outcome (collector/history/judgements.py), coverage (collector/pipeline/coverage.py) --

    async def judgements(self, ids: Sequence[int]) -> Judged:
        # The marks first: judgements read after them are at least as far along.
        judged_from, derived_up_to, newest = (await self._fetch(self._sql.SELECT_DERIVE_STATE))[0]
        rows = await self._fetch(self._sql.SELECT_JUDGEMENTS, (_id_list(ids),))
        kept = {
            i: Judgement(
                mark,
                orjson.loads(ops),
                None if applied is None else bool(applied),
                bool(settled),
                checked,
            )
            for i, mark, ops, applied, settled, checked in rows
        }
        return Judged(kept, int(judged_from), int(derived_up_to), int(newest))

    async def neighbours(self, ids: Sequence[int]) -> dict[int, Neighbours]:
        rows = await self._fetch(self._sql.SELECT_NEIGHBOURS, (_id_list(ids),))
        return {
            i: Neighbours(
                tuple(sorted(orjson.loads(earlier), reverse=True)),
                tuple(sorted(orjson.loads(later))),
            )
            for i, earlier, later in rows
        }

    async def steps(self, ids: Iterable[int]) -> dict[int, Step]:
        rows = await self._fetch(self._sql.SELECT_STEPS, (_id_list(ids),))
        return {row[0]: _step(row) for row in rows}

    # -- who acted, what manages the object (collector/history/provenance.py) --------------------------

    async def authors(self, ids: Sequence[int]) -> dict[int, Author]:
        rows = await self._fetch(self._sql.SELECT_AUTHORS, (_id_list(ids),))
        authors = {}
        for i, username, identity, manager, grp, res, ns, name in rows:
            _, groups, extra = orjson.loads(identity)
            authors[i] = Author(username, tuple(groups), manager, (grp, res, ns, name), extra)
        return authors

    async def kept_provenance(self, ids: Sequence[int]) -> dict[int, Provenance]:
        rows = await self._fetch(self._sql.SELECT_PROVENANCE, (_id_list(ids),))
        return {row[0]: _provenance(row) for row in rows}

    async def latest(self, wanted: Sequence[tuple[Identity, int]]) -> list[list[int]]:
        rows = await self._fetch(self._sql.SELECT_LATEST, (_wanted(wanted),))
        found = {int(position): sorted(orjson.loads(ids), reverse=True) for position, ids in rows}
        return [found.get(position, []) for position in range(len(wanted))]

    async def hand_edits(self, wanted: Sequence[tuple[Identity, int]]) -> dict[int, Identity]:
        rows = await self._fetch(self._sql.SELECT_HAND_EDITS, (_wanted(wanted),))
        return {i: (grp, resource, namespace, name) for i, grp, resource, namespace, name in rows}

    async def runs(self) -> list[Run]:
        return [Run(*row) for row in await self._fetch(self._sql.SELECT_HEARTBEATS)]


_OBJECT = "grp, resource, kind, namespace, name"


def _within(query: EventQuery, start_ms: int, end_ms: int) -> EventQuery:
    return replace(query, since=at_ms(start_ms), until=at_ms(end_ms))


def _placeholders(values: Sequence[Any]) -> str:
    return ", ".join("?" for _ in values)


def _marks(rows: Rows) -> list[tuple[str | None, bool | None, int]]:
    return [(c, None if a is None else bool(a), int(n)) for c, a, n in rows]


def summary_texts(changes: Sequence[tuple[int, Ops]]) -> list[tuple[int, str]]:
    """Change summaries as both stores keep them: (event id, `changes` column)."""
    return [(event_id, orjson.dumps(summary).decode()) for event_id, summary in changes]


def judgement_rows(judgements: Mapping[int, Judgement]) -> tuple[list[tuple[Any, ...]], list[int]]:
    """Judgements as both stores keep them: the rows to keep, and the ids whose judgement is
    the usual one (kept as no row at all)."""
    rows = [
        (
            event_id,
            judged.continuity,
            orjson.dumps(judged.unrecorded).decode(),
            judged.applied,
            judged.settled,
            judged.checked_until,
        )
        for event_id, judged in judgements.items()
        if not judged.usual
    ]
    usual = [event_id for event_id, judged in judgements.items() if judged.usual]
    return rows, usual


def provenance_rows(derived: Derived) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """What both stores keep of a pass: a row per event (id, actor, tool, managed tool, name
    and namespace, hand edit, reverts, revision), and (decided by, put back, hand edit) for each
    hand edit it decided."""
    rows = []
    for event_id, found in derived.found.items():
        managed = found.managed_by
        rows.append(
            (
                event_id,
                found.actor.kind,
                found.actor.tool,
                managed.tool if managed else None,
                managed.name if managed else None,
                managed.namespace if managed else None,
                found.hand_edit,
                orjson.dumps(found.reverts).decode(),
                found.revision.revision if found.revision else None,
            )
        )
    decided = [(d.write, d.reverted, d.hand_edit) for d in derived.decisions]
    return rows, decided


def _provenance(row: Sequence[Any]) -> Provenance:
    (_, kind, tool, managed_tool, managed_name, managed_namespace, hand_edit, decided_by,
     reverted, reverts, revision) = row  # fmt: skip
    managed = ManagedBy(managed_tool, managed_name, managed_namespace) if managed_tool else None
    return Provenance(
        Actor(kind, tool),
        managed,
        bool(hand_edit),
        decided_by if reverted else None,
        tuple(orjson.loads(reverts)),
        Revision(managed.tool, managed.name, revision) if managed and revision else None,
    )


def _wanted(wanted: Sequence[tuple[Identity, int]]) -> str:
    """Objects and ids as one JSON parameter: [namespace, name, resource, group, id] each."""
    return orjson.dumps(
        [
            [namespace, name, resource, grp, before]
            for (grp, resource, namespace, name), before in wanted
        ]
    ).decode()


def _id_list(ids: Iterable[int]) -> str:
    """Ids as one JSON array parameter (both stores unpack it in SQL)."""
    return orjson.dumps(list(ids)).decode()


def _step(row: Sequence[Any]) -> Step:
    _, operation, subresource, dry_run, body, changes = row
    summary = orjson.loads(changes) if changes != PENDING else None
    return Step(operation, subresource, bool(dry_run), changes=summary, decode=_objects(body))


def _underived(row: Sequence[Any]) -> Underived:
    event_id, time_ms, operation, subresource, dry_run, body, changes = row
    body = bytes(body)
    return Underived(
        int(event_id),
        int(time_ms),
        operation,
        subresource,
        bool(dry_run),
        codec.plain_size(body),
        _objects(body),
        None if changes == PENDING else functools.partial(orjson.loads, changes),
    )


def _objects(body: bytes) -> Callable[[], tuple[JSONObject | None, JSONObject | None]]:
    """The old and new object of a stored body, decoded when first asked for (by the judging
    thread, off the event loop)."""

    def decoded() -> tuple[JSONObject | None, JSONObject | None]:
        new, old, _ = codec.decode(bytes(body))
        return old, new

    return decoded


async def _summaries(rows: Rows) -> list[Event]:
    """Summaries from their rows; those the deriver has not reached yet (their body selected)
    have their changes computed here, off the event loop."""
    if any(row[16] is not None for row in rows):
        return await asyncio.to_thread(lambda: [summary_from_row(row) for row in rows])
    return [summary_from_row(row) for row in rows]

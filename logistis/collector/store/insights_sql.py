"""The insights' statements (collector/history/insights.py): the same SQL on both stores.

Each counts the events the filters select (`{where}`, the `/api/v1/events` clause) in a
subquery, so that every figure is of the same events a page of them lists. Ties in the top
lists are ordered by their values' bytes (`{bytewise}`, each store's own spelling).
"""

from __future__ import annotations

SOURCE = (
    "(SELECT id, time_ms, username, namespace, grp, resource, kind, name FROM events {where}) AS e"
)
# Per unit of time (the `?`: its milliseconds) and kind of actor: the events and hand edits.
# An event the deriver has not reached has no provenance row yet: its actor is NULL.
ACTIVITY = (
    "SELECT e.time_ms / ? AS unit, pv.actor, count(*),"
    " sum(CASE WHEN pv.hand_edit THEN 1 ELSE 0 END)"
    " FROM {source} LEFT JOIN provenance AS pv ON pv.id = e.id GROUP BY unit, pv.actor"
)
_TOP = (
    "SELECT {{columns}}, count(*) AS n FROM {{source}} GROUP BY {{columns}}{}"
    " ORDER BY n DESC, {{bytewise}} LIMIT ?"
)
TOP = _TOP.format("")
# The groups of more than one event only, which all rank before those of one: over a short span
# most objects have one event, and sorting the few others is cheaper than sorting them all.
TOP_REPEATED = _TOP.format(" HAVING count(*) > 1")
# Only unusual judgements are kept (collector/history/judgements.py): what is not counted is usual.
# Over many events, from the judgements, each looked up among the events the filters select
# (`{where}` then ends with `id = j.id`).
MARKS_JUDGED = (
    "SELECT j.continuity, j.applied, count(*) FROM judgements AS j"
    " WHERE EXISTS (SELECT 1 FROM events {where}) GROUP BY j.continuity, j.applied"
)
MARKS = (
    "SELECT j.continuity, j.applied, count(*) FROM {source}"
    " JOIN judgements AS j ON j.id = e.id GROUP BY j.continuity, j.applied"
)
# Times rise with ids: the first event's time without reading the others.
FIRST_TIME = "SELECT time_ms FROM events ORDER BY id LIMIT 1"
# Every group of a top list over some events (a tile's: collector/store/insight_counts.py),
# summed with the other tiles' before the list is cut.
GROUPS = "SELECT {columns}, count(*) FROM {source} GROUP BY {columns}"

# -- from the counts per bucket (collector/store/insight_counts.py) ---------------------------
# Each reads the buckets of one grain (the first `?` of the three) from a start up to an end.
_BUCKETS = "grain = ? AND start_ms >= ? AND start_ms < ?"
# Per unit of time (the `?` before them) and kind of actor ('' for every event, derived or
# not), of the scopes `{scopes}` (a `?` each, after them).
COUNTED_ACTIVITY = (
    "SELECT start_ms / ?, actor, sum(count), sum(hand_edits) FROM insight_activity"
    f" WHERE {_BUCKETS} AND namespace IN ({{scopes}}) GROUP BY 1, actor"
)
# About how many events of all namespaces a span holds (its whole hours'): for choosing how to
# count what the counts do not keep, never for a figure.
COUNTED_ABOUT = (
    f"SELECT sum(count) FROM insight_activity WHERE {_BUCKETS} AND namespace = ? AND actor = ''"
)
# Per user, people only (the last `?`: the machines' prefix), and per kind.
COUNTED_PEOPLE = (
    f"SELECT username, sum(count) FROM insight_users WHERE {_BUCKETS}"
    " AND substr(username, 1, 7) != ? GROUP BY username"
)
COUNTED_KINDS = (
    f"SELECT grp, resource, kind, sum(count) FROM insight_kinds WHERE {_BUCKETS}"
    " GROUP BY grp, resource, kind"
)
# Per namespace: the rows of the namespaces asked for (`{scopes}`, a `?` each, before the
# others), or of each namespace with events (the text search's aggregate lists them): a range
# of buckets read per namespace, not every namespace's rows of the grain (SQLite keeps the
# order of a CROSS JOIN).
COUNTED_NAMESPACES = (
    "SELECT a.namespace, sum(a.count) FROM {namespaces} CROSS JOIN insight_activity AS a"
    " WHERE a.grain = ? AND a.namespace = n.namespace AND a.start_ms >= ? AND a.start_ms < ?"
    " AND a.actor = '' GROUP BY a.namespace"
)
_NAMESPACES = "(SELECT value AS namespace FROM search_values WHERE field = 'namespace'{}) AS n"
NAMESPACES_ASKED = _NAMESPACES.format(" AND value IN ({scopes})")
NAMESPACES_ALL = _NAMESPACES.format("")
# The objects with the most events kept (per-resource retention's counts), a page of them: none
# of those after can have more events in any span than the last of the page has in all. Ties in
# a total order, so pages neither repeat nor skip an object (the key descending too: the index on
# count holds it after the count in SQLite, which then sorts nothing).
BUSIEST_OBJECTS = (
    "SELECT namespace, name, resource, grp, count FROM resources"
    " ORDER BY count DESC, namespace DESC, name DESC, resource DESC, grp DESC LIMIT ? OFFSET ?"
)

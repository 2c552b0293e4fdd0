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
TOP = (
    "SELECT {columns}, count(*) AS n FROM {source} GROUP BY {columns}"
    " ORDER BY n DESC, {bytewise} LIMIT ?"
)
# Only unusual judgements are kept (collector/history/judgements.py): what is not counted is usual.
MARKS = (
    "SELECT j.continuity, j.applied, count(*) FROM {source}"
    " JOIN judgements AS j ON j.id = e.id GROUP BY j.continuity, j.applied"
)
# Times rise with ids: the first event's time without reading the others.
FIRST_TIME = "SELECT time_ms FROM events ORDER BY id LIMIT 1"

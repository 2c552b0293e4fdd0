"""The SQL statements of the SQLite store (its schema and migrations: `sqlite_schema`).

Aggregates (`stats` for facets and the namespaces overview, `resources` for per-resource
retention, `search_values` for the text search, `identities.last_event`) are kept once per
commit group since schema 7 (`sqlite_aggregates`): every statement that adds or removes events
is followed, in its transaction, by the few statements that count its rows in or out.
"""

from __future__ import annotations

from logistis.collector.history.continuity import NEIGHBOURS, OBJECT_SUBRESOURCES
from logistis.collector.history.provenance import RECENT
from logistis.collector.history.query import MAX_ID
from logistis.collector.store.where import Dialect

# -- the aggregates, counted once per statement that adds or removes events ------------------

# What the aggregates count of each event added or removed, in this order (a DELETE returns
# these columns of the events it removed).
COUNTED = ("namespace", "grp", "resource", "kind", "username", "operation", "name",
           "field_manager", "time_ms")  # fmt: skip
STATS_KEY = COUNTED[:6]
RESOURCES_KEY = ("namespace", "name", "resource", "grp")
SEARCH_VALUES_KEY = ("field", "value")
# The insights' counts (collector/store/insight_counts.py): the bucket, then what it counts by.
ACTIVITY_KEY = ("grain", "namespace", "start_ms", "actor")
USERS_KEY = ("grain", "start_ms", "username")
KINDS_KEY = ("grain", "start_ms", "grp", "resource", "kind")


def _counting(table: str, key: tuple[str, ...]) -> tuple[str, str]:
    """The statements that add a signed count to the row of `table` named by its `key`
    columns, and that remove the row once it counts nothing."""
    columns, marks = ", ".join(key), ", ".join("?" for _ in key)
    return (
        f"INSERT INTO {table} ({columns}, count) VALUES ({marks}, ?)"
        " ON CONFLICT DO UPDATE SET count = count + excluded.count",
        f"DELETE FROM {table} WHERE ({columns}) = ({marks}) AND count <= 0",
    )


ADD_STATS, DROP_EMPTY_STATS = _counting("stats", STATS_KEY)
ADD_RESOURCES, DROP_EMPTY_RESOURCES = _counting("resources", RESOURCES_KEY)
ADD_SEARCH_VALUES, DROP_EMPTY_SEARCH_VALUES = _counting("search_values", SEARCH_VALUES_KEY)
ADD_ACTIVITY, DROP_EMPTY_ACTIVITY = _counting("insight_activity", ACTIVITY_KEY)
ADD_USERS, DROP_EMPTY_USERS = _counting("insight_users", USERS_KEY)
ADD_KINDS, DROP_EMPTY_KINDS = _counting("insight_kinds", KINDS_KEY)
# The resources a commit group adds events to, each [namespace, name, resource, group, added]
# in one JSON array: the position and the excess of those it takes past the per-resource limit
# (only those). Read before writing: a group that trims what it adds leaves the row as it was.
# One statement a group, not one a resource (each a few microseconds of the write thread's
# time in the transaction, most of a small group's count).
SELECT_OVER_LIMIT = """
    SELECT w.key, coalesce(r.count, 0) + (w.value ->> 4)
                  - (SELECT value FROM config WHERE key = 'max_events_per_resource') AS over
    FROM json_each(?) AS w LEFT JOIN resources AS r
        ON r.namespace = w.value ->> 0 AND r.name = w.value ->> 1
        AND r.resource = w.value ->> 2 AND r.grp = w.value ->> 3
    WHERE over > 0
"""
_COUNTED_OUT = "RETURNING " + ", ".join(COUNTED)
DELETE_OLDEST_OF_RESOURCE = f"""
    DELETE FROM events WHERE id IN (
        SELECT id FROM events WHERE namespace = ? AND name = ? AND resource = ? AND grp = ?
        ORDER BY id LIMIT ?)
    {_COUNTED_OUT}
"""
# The newest event naming each identity, so retention can drop the unused ones.
SET_LAST_EVENT = "UPDATE identities SET last_event = max(last_event, ?) WHERE json = ?"

# -- continuity and outcome (an id list is one JSON array parameter) -----------------------------

_LINKS = (
    "dry_run = 0 AND operation != 'CONNECT' AND subresource IN ("
    + ", ".join(f"'{name}'" for name in OBJECT_SUBRESOURCES)
    + ")"
)
_SAME_OBJECT = (
    "n.namespace = e.namespace AND n.name = e.name AND n.resource = e.resource AND n.grp = e.grp"
)
SELECT_JUDGEMENTS = """
    SELECT id, continuity, unrecorded, applied, settled, checked_until FROM judgements
    WHERE id IN (SELECT value FROM json_each(?))
"""
# The recorded neighbours of each event that later ones are compared with, newest first before
# it and oldest first after it; each an index seek on events_by_identity.
_NEIGHBOURS = """(SELECT json_group_array(id) FROM (
    SELECT n.id FROM events AS n WHERE {same} AND n.id {side} e.id AND {links}
    ORDER BY n.id {order} LIMIT {limit}))"""
_BEFORE = _NEIGHBOURS.format(
    same=_SAME_OBJECT, side="<", links=_LINKS, order="DESC", limit=NEIGHBOURS
)
_AFTER = _NEIGHBOURS.format(
    same=_SAME_OBJECT, side=">", links=_LINKS, order="ASC", limit=NEIGHBOURS
)
_OF_IDS = "FROM events AS e WHERE e.id IN (SELECT value FROM json_each(?))"
SELECT_NEIGHBOURS = f"SELECT e.id, {_BEFORE}, {_AFTER} {_OF_IDS}"
SELECT_STEPS = """
    SELECT id, operation, subresource, dry_run, body, changes FROM events
    WHERE id IN (SELECT value FROM json_each(?))
"""
# An event removed meanwhile has no judgement to keep (its row would outlive it).
UPSERT_JUDGEMENT = """
    INSERT OR REPLACE INTO judgements
    SELECT ?1, ?2, ?3, ?4, ?5, ?6 WHERE EXISTS (SELECT 1 FROM events WHERE id = ?1)
"""
# The usual judgement is no row.
DELETE_JUDGEMENTS = "DELETE FROM judgements WHERE id IN (SELECT value FROM json_each(?))"

# -- coverage ----------------------------------------------------------------------------------

INSERT_HEARTBEAT = "INSERT OR REPLACE INTO heartbeats VALUES (?, ?, ?, NULL)"
UPDATE_HEARTBEAT = "UPDATE heartbeats SET beat_ms = ? WHERE collector = ? AND started_ms = ?"
STOP_HEARTBEAT = (
    "UPDATE heartbeats SET beat_ms = ?, stopped_ms = ? WHERE collector = ? AND started_ms = ?"
)
# One row per run of a collector: few enough to read whole.
SELECT_HEARTBEATS = "SELECT collector, started_ms, beat_ms, stopped_ms FROM heartbeats"
# Runs copied by migrate-store, as they were.
IMPORT_HEARTBEAT = "INSERT OR REPLACE INTO heartbeats VALUES (?, ?, ?, ?)"
# Retention: the runs that ended before the one that ended last before the oldest kept event
# (a run ends at its last beat; a clean stop writes one). That run stays: the blind spot after
# it may reach into the kept history. Every blind spot after its end is told as before: the
# runs removed all ended earlier, so they covered nothing after it.
# The oldest kept event is the one of the lowest id: times rise with ids, and the id is indexed.
DELETE_OLD_HEARTBEATS = """
    DELETE FROM heartbeats WHERE beat_ms < (
        SELECT max(beat_ms) FROM heartbeats
        WHERE beat_ms < (SELECT time_ms FROM events ORDER BY id LIMIT 1))
"""

SET_MAX_PER_RESOURCE = "UPDATE config SET value = ? WHERE key = 'max_events_per_resource'"
PROBE_WRITE = (
    "UPDATE config SET value = value + 1 WHERE key = 'max_events_per_resource'",
    "UPDATE config SET value = value - 1 WHERE key = 'max_events_per_resource'",
)

# An event names its identity by id; the identity's JSON is inserted first (INSERT_IDENTITY).
# Its id is given (SELECT_ID_BEFORE_GROUP), so the group's aggregates know which event is
# whose without reading them back.
INSERT_IDENTITY = "INSERT INTO identities (json) VALUES (?) ON CONFLICT DO NOTHING"
INSERT_EVENT = """
    INSERT INTO events (id, uid, time_ms, operation, dry_run, username, identity, user_json, grp,
                        version, kind, resource, subresource, namespace, name, field_manager,
                        changes, body)
    VALUES (?, ?, ?, ?, ?, ?, (SELECT id FROM identities WHERE json = ?), '',
            ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
"""

# The deriver: where its judging began, where it stands and the newest id, then the events it
# has not reached (read on a read connection), then their changes, judgements and its new
# mark (one transaction).
SELECT_DERIVE_STATE = """
    SELECT (SELECT value FROM config WHERE key = 'judged_from'),
           (SELECT value FROM config WHERE key = 'derived_up_to'),
           (SELECT coalesce(max(id), 0) FROM events)
"""
SELECT_UNDERIVED = """
    SELECT id, time_ms, operation, subresource, dry_run, body, changes FROM events
    WHERE id > ? AND id <= ? ORDER BY id LIMIT ?
"""
UPDATE_CHANGES = "UPDATE events SET changes = ? WHERE id = ? AND changes = ''"
SET_DERIVED_UP_TO = "UPDATE config SET value = max(value, ?) WHERE key = 'derived_up_to'"
# Rows copied in with their own ids may be underived below the mark.
LOWER_DERIVED_UP_TO = "UPDATE config SET value = min(value, ?) WHERE key = 'derived_up_to'"

# The filters. GLOB takes the user patterns as they are. Text: instr, not LIKE: LIKE reads its
# pattern as a C string, so a NUL in `q` cut it short and matched everything; instr compares
# every character, wildcards included. Both sides lowered by SQLite: ASCII case folding. The
# values holding the text are found in `search_values` first (a few thousand rows where the
# events are millions): an event matches when one of its columns is one of them.
# Whether any value holds it bounds the ids read: SQLite evaluates a subquery in WHERE once but
# still tests it on every row it scans (957 -> 146 ms for a miss over 1M events), while the
# bound of the id range the scan starts from ends the scan before its first row (13 ms).
_CONTAINS = "instr(lower(value), lower(?)) > 0"
_NO_ID = 0  # ids start at 1
DIALECT = Dialect(
    kind="(kind = ? COLLATE NOCASE OR resource = lower(?))",
    user_glob="username GLOB ?",
    glob=str,
    text=(
        "{column} IN (SELECT value FROM search_values"
        f" WHERE field = '{{column}}' AND {_CONTAINS})"
    ),
    text_found=(
        f"id <= CASE WHEN EXISTS (SELECT 1 FROM search_values WHERE {_CONTAINS})"
        f" THEN {MAX_ID} ELSE {_NO_ID} END"
    ),
)

# Events written before migration 3 carry their identity's JSON themselves.
IDENTITY_JSON = (
    "coalesce((SELECT json FROM identities WHERE identities.id = events.identity), user_json)"
)
SUMMARY_COLUMNS = (
    f"id, uid, time_ms, operation, dry_run, username, {IDENTITY_JSON},"
    " grp, version, kind, resource, subresource, namespace, name, field_manager, changes"
)

# -- who acted, what manages the object (collector/history/provenance.py) ------------------------------

SELECT_AUTHORS = f"""
    SELECT id, username, {IDENTITY_JSON}, field_manager, grp, resource, namespace, name
    FROM events WHERE id IN (SELECT value FROM json_each(?))
"""
SELECT_PROVENANCE = """
    SELECT id, actor, tool, managed_tool, managed_name, managed_namespace, hand_edit, decided_by,
           reverted, reverts, revision
    FROM provenance WHERE id IN (SELECT value FROM json_each(?))
"""
# An object and an id are one JSON array, [namespace, name, resource, group, id]: an index seek
# on events_by_identity each.
_WANTED_OBJECT = """e.namespace = w.value ->> 0 AND e.name = w.value ->> 1
    AND e.resource = w.value ->> 2 AND e.grp = w.value ->> 3 AND e.id < w.value ->> 4"""
SELECT_LATEST = f"""
    SELECT w.key, (SELECT json_group_array(id) FROM (
        SELECT e.id FROM events AS e WHERE {_WANTED_OBJECT} AND e.dry_run = 0
        ORDER BY e.id DESC LIMIT {RECENT}))
    FROM json_each(?) AS w
"""
# The events of each object (the ids before which: all) from a time up to another, per kind:
# each object's own events, not its namespace's of the span.
SELECT_OBJECT_COUNTS = f"""
    SELECT e.grp, e.resource, e.kind, e.namespace, e.name, count(*)
    FROM json_each(?) AS w JOIN events AS e INDEXED BY events_by_identity ON {_WANTED_OBJECT}
    WHERE e.time_ms >= ? AND e.time_ms < ? GROUP BY e.grp, e.resource, e.kind, e.namespace, e.name
"""
# Hand edits not decided before the id (decided at it or later: derived again after a crash).
SELECT_HAND_EDITS = f"""
    SELECT e.id, e.grp, e.resource, e.namespace, e.name
    FROM json_each(?) AS w JOIN events AS e ON {_WANTED_OBJECT}
    JOIN provenance AS p ON p.id = e.id
    WHERE p.hand_edit AND (p.decided_by IS NULL OR p.decided_by >= w.value ->> 4)
"""
# An event removed meanwhile has no row to keep (its row would outlive it). Derived again (after
# a crash before the mark moved), an event keeps the decision a later write made about it.
UPSERT_PROVENANCE = """
    INSERT INTO provenance (id, actor, tool, managed_tool, managed_name, managed_namespace,
                            hand_edit, reverts, revision)
    SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9 WHERE EXISTS (SELECT 1 FROM events WHERE id = ?1)
    ON CONFLICT (id) DO UPDATE SET actor = excluded.actor, tool = excluded.tool,
        managed_tool = excluded.managed_tool, managed_name = excluded.managed_name,
        managed_namespace = excluded.managed_namespace, hand_edit = excluded.hand_edit,
        reverts = excluded.reverts, revision = excluded.revision
"""
DECIDE_HAND_EDIT = "UPDATE provenance SET decided_by = ?, reverted = ? WHERE id = ?"
SELECT_NAMESPACE_HAND_EDITS = """
    SELECT e.namespace, count(*) FROM provenance AS p JOIN events AS e ON e.id = p.id
    WHERE p.hand_edit GROUP BY e.namespace
"""

# The body comes along only for an event whose change summary is not derived yet.
SELECT_SUMMARIES = f"SELECT {SUMMARY_COLUMNS}, CASE WHEN changes = '' THEN body END FROM events"
SELECT_EXPORT = f"""
    SELECT id, uid, time_ms, operation, dry_run, username, {IDENTITY_JSON}, grp, version, kind,
           resource, subresource, namespace, name, field_manager, changes, body
    FROM events WHERE id > ? ORDER BY id LIMIT ?
"""
SELECT_COUNT_UP_TO = "SELECT count(*) FROM events WHERE id <= ?"
SELECT_DETAIL = f"SELECT {SUMMARY_COLUMNS}, body FROM events WHERE id = ?"
SELECT_DETAILS = (
    f"SELECT {SUMMARY_COLUMNS}, body FROM events WHERE id IN (SELECT value FROM json_each(?))"
)
SELECT_LAST_ID = "SELECT coalesce(max(id), 0) FROM events"
# A group's ids follow the newest event's, and the deriver's mark: once retention has removed
# the newest events (every one, after a quiet spell longer than --max-age), SQLite's own
# choice (the newest + 1) would give ids again that streams' clients and the mark have passed.
SELECT_ID_BEFORE_GROUP = """
    SELECT max((SELECT coalesce(max(id), 0) FROM events),
               (SELECT value FROM config WHERE key = 'derived_up_to'))
"""
SELECT_KNOWN_KINDS = "SELECT DISTINCT grp, resource, kind FROM stats"

# Each namespace's count, and its newest event found by one index seek per namespace.
SELECT_NAMESPACES = """
    SELECT s.namespace, s.n, e.time_ms, e.username
    FROM (SELECT namespace, sum(count) AS n FROM stats GROUP BY namespace) AS s
    LEFT JOIN events AS e ON e.id = (SELECT max(id) FROM events WHERE namespace = s.namespace)
    ORDER BY s.namespace
"""
SELECT_NAMESPACE_KINDS = """
    SELECT namespace, grp, kind, resource, sum(count) AS n FROM stats
    GROUP BY namespace, grp, resource, kind ORDER BY namespace, n DESC, grp, resource, kind
"""

# Facets over the aggregate table, or over the events themselves when a filter needs them.
FACET_SOURCE_STATS = "stats"
FACET_SOURCE_EVENTS = (
    "(SELECT namespace, grp, resource, kind, username, operation, 1 AS count FROM events {where})"
)
# Ties in the order of their values, as the PostgreSQL store orders them.
SELECT_FACET = (
    "SELECT {columns}, sum(count) AS n FROM {source} {where} GROUP BY {columns}"
    " ORDER BY n DESC, {bytewise}"
)


def bytewise(columns: str) -> str:
    """Columns in the order of their bytes: SQLite's own order of text."""
    return columns


# Retention by age and size: each DELETE returns what its events counted, to count them out.
DELETE_OLDER_THAN = f"""
    DELETE FROM events WHERE id IN (SELECT id FROM events WHERE time_ms < ? ORDER BY time_ms LIMIT ?)
    {_COUNTED_OUT}
"""
DELETE_UNUSED_IDENTITIES = """
    DELETE FROM identities
    WHERE last_event < (SELECT coalesce(min(id), 9223372036854775807) FROM events)
"""
DELETE_OLDEST = (
    f"DELETE FROM events WHERE id IN (SELECT id FROM events ORDER BY id LIMIT ?) {_COUNTED_OUT}"
)
SELECT_USED_BYTES = (
    "SELECT (page_count - freelist_count) * page_size FROM pragma_page_count(),"
    " pragma_freelist_count(), pragma_page_size()"
)

# -- notifications (collector/pipeline/notify): the outbox -----------------------------------------------

# An event matched again (derived twice) keeps its first item, whatever became of it.
QUEUE_OUTBOX = """
    INSERT OR IGNORE INTO outbox (event_id, sink, rule, queued_ms, due_ms) VALUES (?, ?, ?, ?, ?)
"""
# Items due and not claimed (or claimed by a run whose lease ran out), claimed until `?`.
CLAIM_OUTBOX = """
    UPDATE outbox SET claimed_until_ms = ?
    WHERE (event_id, sink) IN (
        SELECT event_id, sink FROM outbox
        WHERE state = 0 AND due_ms <= ? AND claimed_until_ms <= ?
        ORDER BY due_ms, event_id LIMIT ?
    )
    RETURNING event_id, sink, rule, queued_ms, attempts
"""
SETTLE_OUTBOX = """
    UPDATE outbox SET state = ?, attempts = ?, due_ms = ?, claimed_until_ms = 0
    WHERE event_id = ? AND sink = ?
"""
SELECT_OUTBOX_BACKLOG = """
    SELECT sink, count(*), sum(attempts > 0), min(queued_ms) FROM outbox WHERE state = 0
    GROUP BY sink
"""

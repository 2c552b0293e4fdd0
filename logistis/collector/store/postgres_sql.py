"""The SQL statements of the PostgreSQL store (its schema and migrations: `postgres_schema`;
its functions on the server, the advisory locks and the commit channel: `postgres_functions`).
"""

from __future__ import annotations

import re

from logistis.collector.history.continuity import NEIGHBOURS, OBJECT_SUBRESOURCES
from logistis.collector.history.provenance import RECENT
from logistis.collector.store.postgres_functions import RETENTION_LOCK, WRITE_LOCK
from logistis.collector.store.where import Dialect

# Set on every connection: an acknowledged event must be on disk (the server's default, but a
# database may have it off), and no statement may hold a connection for ever.
SERVER_SETTINGS = {
    "synchronous_commit": "on",
    "statement_timeout": "30s",
    "application_name": "logistis-collector",
}


RECORD = "SELECT logistis_record(" + ", ".join(f"${n}" for n in range(1, 19)) + ")"
# After rows copied with their own ids, the sequence continues after the largest.
ADVANCE_SEQUENCE = """
    SELECT setval('events_id_seq', greatest((SELECT max(id) FROM events), 1),
                  (SELECT max(id) FROM events) IS NOT NULL)
"""

# The deriver: where it stands and the newest id, then the events it has not reached (read on
# a read connection), then its pass saved: their changes (only events copied in or stored
# before schema 3 come without), judgements and its new mark.
SELECT_DERIVE_STATE = """
    SELECT (SELECT value FROM config WHERE key = 'judged_from'),
           (SELECT value FROM config WHERE key = 'derived_up_to'),
           (SELECT coalesce(max(id), 0) FROM events)
"""
SELECT_UNDERIVED = """
    SELECT id, time_ms, operation, subresource, dry_run, body, changes FROM events
    WHERE id > $1 AND id <= $2 ORDER BY id LIMIT $3
"""
SAVE_DERIVED = "SELECT logistis_save_derived(" + ", ".join(f"${n}" for n in range(1, 11)) + ")"
# Rows copied in with their own ids may be underived below the mark.
LOWER_DERIVED_UP_TO = "UPDATE config SET value = least(value, $1) WHERE key = 'derived_up_to'"

SET_MAX_PER_RESOURCE = "UPDATE config SET value = $1 WHERE key = 'max_events_per_resource'"
PROBE_WRITE = "UPDATE config SET value = value WHERE key = 'max_events_per_resource'"
TAKE_WRITE_LOCK = f"SELECT pg_advisory_xact_lock({WRITE_LOCK})"
# Session-level, on a connection of its own closed after the pass: one collector's pass at a
# time.
TRY_RETENTION_LOCK = f"SELECT pg_try_advisory_lock({RETENTION_LOCK})"
RELEASE_RETENTION_LOCK = f"SELECT pg_advisory_unlock({RETENTION_LOCK})"
# Reads are planned for their parameters every time: how many events a filter selects
# (a user, a kind) decides between walking the newest events and reading an index, and a
# generic plan, which asyncpg's prepared statements would get after five runs, cannot know it.
READER_SETTINGS = {**SERVER_SETTINGS, "plan_cache_mode": "force_custom_plan"}
# The commit listener's connection, as pg_stat_activity names it.
LISTENER_SETTINGS = {**SERVER_SETTINGS, "application_name": "logistis-collector-listener"}
# The listener's proof, now and then, that its connection still reaches the server.
KEEPALIVE = "SELECT 1"

SUMMARY_COLUMNS = (
    "id, coalesce(uid::text, uid_text), time_ms, operation, dry_run, username,"
    " (SELECT json FROM identities WHERE identities.id = events.identity),"
    " grp, version, kind, resource, subresource, namespace, name, field_manager, changes"
)
# The body comes along only for an event whose change summary is not derived yet.
SELECT_SUMMARIES = f"SELECT {SUMMARY_COLUMNS}, CASE WHEN changes = '' THEN body END FROM events"
SELECT_DETAIL = f"SELECT {SUMMARY_COLUMNS}, body FROM events WHERE id = $1"
SELECT_DETAILS = f"""
    SELECT {SUMMARY_COLUMNS}, body FROM events
    WHERE id IN (SELECT value::bigint FROM jsonb_array_elements_text(?::jsonb))
"""
SELECT_LAST_ID = "SELECT coalesce(max(id), 0) FROM events"
SELECT_KNOWN_KINDS = "SELECT DISTINCT grp, resource, kind FROM stats"
SELECT_EXPORT = f"""
    SELECT {SUMMARY_COLUMNS.replace("coalesce(uid::text, uid_text)", "uid, uid_text")}, body
    FROM events WHERE id > $1 ORDER BY id LIMIT $2
"""
SELECT_COUNT_UP_TO = "SELECT count(*) FROM events WHERE id <= $1"

# Each namespace's count, and its newest event found by one index seek per namespace. Names
# sort by their bytes, as SQLite sorts them.
SELECT_NAMESPACES = """
    SELECT s.namespace, s.n, e.time_ms, e.username
    FROM (SELECT namespace, sum(count)::bigint AS n FROM stats GROUP BY namespace) AS s
    LEFT JOIN LATERAL (SELECT time_ms, username FROM events
                       WHERE events.namespace = s.namespace ORDER BY id DESC LIMIT 1) AS e
        ON true
    ORDER BY s.namespace COLLATE "C"
"""
SELECT_NAMESPACE_KINDS = """
    SELECT namespace, grp, kind, resource, sum(count)::bigint AS n FROM stats
    GROUP BY namespace, grp, resource, kind
    ORDER BY namespace COLLATE "C", n DESC, grp COLLATE "C", resource COLLATE "C", kind COLLATE "C"
"""

# Facets over the aggregate table, or over the events themselves when a filter needs them.
FACET_SOURCE_STATS = "stats"
FACET_SOURCE_EVENTS = (
    "(SELECT namespace, grp, resource, kind, username, operation, 1 AS count FROM events {where})"
    " AS matching"
)
# Ties in the order of their values' bytes, as SQLite orders them.
SELECT_FACET = (
    "SELECT {columns}, sum(count)::bigint AS n FROM {source} {where}"
    " GROUP BY {columns} ORDER BY n DESC, {bytewise}"
)


def bytewise(columns: str) -> str:
    """`a, b` as `a COLLATE "C", b COLLATE "C"`."""
    return ", ".join(f'{column} COLLATE "C"' for column in columns.split(", "))


# Retention, each statement in a transaction of its own behind TAKE_WRITE_LOCK.
DELETE_OLDER_THAN = """
    DELETE FROM events WHERE id IN (SELECT id FROM events WHERE time_ms < $1 LIMIT $2)
"""
DELETE_OLDEST = "DELETE FROM events WHERE id IN (SELECT id FROM events ORDER BY id LIMIT $1)"
DELETE_UNUSED_IDENTITIES = """
    DELETE FROM identities
    WHERE last_event < (SELECT coalesce(min(id), 9223372036854775807) FROM events)
"""
# The size limit counts the kept events' rows as PostgreSQL stores them (TOAST included), kept
# exact by the triggers: the files themselves shrink only by VACUUM FULL, and the space of
# deleted rows is reused for new ones.
SELECT_USED_BYTES = "SELECT value FROM config WHERE key = 'event_bytes'"
# What the events take on disk, indexes and TOAST included (the benchmarks' figure).
SELECT_RELATION_BYTES = """
    SELECT sum(pg_total_relation_size(c))::bigint
    FROM unnest(
        '{events,identities,stats,resources,judgements,search_values,provenance}'::regclass[]
    ) AS c
"""


def glob_to_like(pattern: str) -> str:
    """A user pattern (only `*` a wildcard, `[c]` a literal c) as a LIKE pattern."""
    out = []
    for match in re.finditer(r"\[(.)\]|(\*)|(.)", pattern, re.DOTALL):
        bracketed, star, plain = match.groups()
        if star:
            out.append("%")
        else:
            char = bracketed if bracketed is not None else plain
            out.append("\\" + char if char in "%_\\" else char)
    return "".join(out)


# The kind as an ILIKE pattern with its wildcards escaped: the same test as lower(kind) =
# lower(?), but the planner estimates it from the column's statistics (the pattern is a
# constant in a custom plan), so it walks the newest events of a user and stops at the end
# of the page instead of sorting all of them.
_LITERAL_PATTERN = r"replace(replace(replace(?, '\', '\\'), '%', '\%'), '_', '\_')"
# Text: strpos over text lowered as SQLite lowers it (ASCII letters only: the "C" collation),
# every character literal; the values containing it are found in `search_values` first.
_CONTAINS = 'strpos(lower(value COLLATE "C"), lower(? COLLATE "C")) > 0'
DIALECT = Dialect(
    kind=f"(kind ILIKE {_LITERAL_PATTERN} OR resource = lower(?))",
    user_glob="username LIKE ? ESCAPE '\\'",
    glob=glob_to_like,
    text=(
        "{column} IN (SELECT value FROM search_values"
        f" WHERE field = '{{column}}' AND {_CONTAINS})"
    ),
    text_found=f"EXISTS (SELECT FROM search_values WHERE {_CONTAINS})",
)


# -- continuity and outcome (an id list is one JSON array parameter) ---------------------------

_LINKS = (
    "NOT n.dry_run AND n.operation <> 'CONNECT' AND n.subresource IN ("
    + ", ".join(f"'{name}'" for name in OBJECT_SUBRESOURCES)
    + ")"
)
_SAME_OBJECT = (
    "n.namespace = e.namespace AND n.name = e.name AND n.resource = e.resource AND n.grp = e.grp"
)
_IDS = "(SELECT value::bigint FROM jsonb_array_elements_text(?::jsonb))"
SELECT_JUDGEMENTS = f"""
    SELECT id, continuity, unrecorded, applied, settled, checked_until FROM judgements
    WHERE id IN {_IDS}
"""
# The recorded neighbours of each event that later ones are compared with, newest first before
# it and oldest first after it; each an index scan of events_by_identity.
_NEIGHBOURS = """(SELECT coalesce(json_agg(id), '[]')::text FROM (
    SELECT n.id FROM events AS n WHERE {same} AND n.id {side} e.id AND {links}
    ORDER BY n.id {order} LIMIT {limit}) AS near)"""
_BEFORE = _NEIGHBOURS.format(
    same=_SAME_OBJECT, side="<", links=_LINKS, order="DESC", limit=NEIGHBOURS
)
_AFTER = _NEIGHBOURS.format(
    same=_SAME_OBJECT, side=">", links=_LINKS, order="ASC", limit=NEIGHBOURS
)
_OF_IDS = f"FROM events AS e WHERE e.id IN {_IDS}"
SELECT_NEIGHBOURS = f"SELECT e.id, {_BEFORE}, {_AFTER} {_OF_IDS}"
SELECT_STEPS = (
    f"SELECT id, operation, subresource, dry_run, body, changes FROM events WHERE id IN {_IDS}"
)

# -- who acted, what manages the object (collector/history/provenance.py) ------------------------------

SELECT_AUTHORS = f"""
    SELECT id, username, (SELECT json FROM identities WHERE identities.id = events.identity),
           field_manager, grp, resource, namespace, name
    FROM events WHERE id IN {_IDS}
"""
SELECT_PROVENANCE = f"""
    SELECT id, actor, tool, managed_tool, managed_name, managed_namespace, hand_edit, decided_by,
           reverted, reverts, revision
    FROM provenance WHERE id IN {_IDS}
"""
# An object and an id are one JSON array, [namespace, name, resource, group, id]: an index scan
# of events_by_identity each.
_WANTED_OBJECT = """e.namespace = w.v ->> 0 AND e.name = w.v ->> 1
    AND e.resource = w.v ->> 2 AND e.grp = w.v ->> 3 AND e.id < (w.v ->> 4)::bigint"""
_WANTED = "jsonb_array_elements(?::jsonb) WITH ORDINALITY AS w(v, n)"
SELECT_LATEST = f"""
    SELECT w.n - 1, (SELECT coalesce(json_agg(id), '[]')::text FROM (
        SELECT e.id FROM events AS e WHERE {_WANTED_OBJECT} AND NOT e.dry_run
        ORDER BY e.id DESC LIMIT {RECENT}) AS near)
    FROM {_WANTED}
"""
# The events of each object (the ids before which: all) from a time up to another, per kind.
SELECT_OBJECT_COUNTS = f"""
    SELECT e.grp, e.resource, e.kind, e.namespace, e.name, count(*)
    FROM {_WANTED} JOIN events AS e ON {_WANTED_OBJECT}
    WHERE e.time_ms >= ? AND e.time_ms < ? GROUP BY e.grp, e.resource, e.kind, e.namespace, e.name
"""
# Hand edits not decided before the id (decided at it or later: derived again after a crash).
SELECT_HAND_EDITS = f"""
    SELECT e.id, e.grp, e.resource, e.namespace, e.name
    FROM {_WANTED} JOIN events AS e ON {_WANTED_OBJECT}
    JOIN provenance AS p ON p.id = e.id
    WHERE p.hand_edit AND (p.decided_by IS NULL OR p.decided_by >= (w.v ->> 4)::bigint)
"""
SAVE_PROVENANCE = (
    "SELECT logistis_save_provenance(" + ", ".join(f"${n}" for n in range(1, 13)) + ")"
)
SELECT_NAMESPACE_HAND_EDITS = """
    SELECT e.namespace, count(*) FROM provenance AS p JOIN events AS e ON e.id = p.id
    WHERE p.hand_edit GROUP BY e.namespace
"""

# -- coverage ----------------------------------------------------------------------------------

INSERT_HEARTBEAT = """
    INSERT INTO heartbeats VALUES ($1, $2, $3, NULL)
    ON CONFLICT (collector, started_ms) DO UPDATE SET beat_ms = excluded.beat_ms
"""
UPDATE_HEARTBEAT = "UPDATE heartbeats SET beat_ms = $3 WHERE collector = $1 AND started_ms = $2"
STOP_HEARTBEAT = (
    "UPDATE heartbeats SET beat_ms = $3, stopped_ms = $3 WHERE collector = $1 AND started_ms = $2"
)
# One row per run of a collector: few enough to read whole.
SELECT_HEARTBEATS = "SELECT collector, started_ms, beat_ms, stopped_ms FROM heartbeats"
# Runs copied by migrate-store, as they were.
IMPORT_HEARTBEAT = """
    INSERT INTO heartbeats VALUES ($1, $2, $3, $4)
    ON CONFLICT (collector, started_ms)
    DO UPDATE SET beat_ms = excluded.beat_ms, stopped_ms = excluded.stopped_ms
"""
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

# -- notifications (collector/pipeline/notify): the outbox -----------------------------------------------


# The pass and its items in one statement, so in one transaction (an event removed meanwhile
# has nothing to send).
SAVE_DERIVED_QUEUING = """
    WITH queued AS (
        INSERT INTO outbox (event_id, sink, rule, queued_ms, due_ms)
        SELECT q.id, q.sink, q.rule, q.queued, q.queued
        FROM unnest($11::bigint[], $12::text[], $13::text[], $14::bigint[])
            AS q(id, sink, rule, queued)
        WHERE EXISTS (SELECT FROM events WHERE events.id = q.id)
        ON CONFLICT DO NOTHING
    )
    SELECT logistis_save_derived($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
"""
# Each item to one collector: rows another one is claiming are skipped, not waited for.
CLAIM_OUTBOX = """
    UPDATE outbox AS o SET claimed_until_ms = $1
    FROM (
        SELECT event_id, sink FROM outbox
        WHERE state = 0 AND due_ms <= $2 AND claimed_until_ms <= $3
        ORDER BY due_ms, event_id LIMIT $4
        FOR UPDATE SKIP LOCKED
    ) AS c
    WHERE o.event_id = c.event_id AND o.sink = c.sink
    RETURNING o.event_id, o.sink, o.rule, o.queued_ms, o.attempts
"""
SETTLE_OUTBOX = """
    UPDATE outbox SET state = $1, attempts = $2, due_ms = $3, claimed_until_ms = 0
    WHERE event_id = $4 AND sink = $5
"""
SELECT_OUTBOX_BACKLOG = """
    SELECT sink, count(*), count(*) FILTER (WHERE attempts > 0), min(queued_ms) FROM outbox
    WHERE state = 0 GROUP BY sink
"""

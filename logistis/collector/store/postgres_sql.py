"""Every SQL statement of the PostgreSQL store, in one place.

A commit group is one call of `logistis_record`: one statement, so one round trip and one
transaction. It takes a transaction-level advisory lock first, so groups from several collectors
get their ids and commit one after the other: ids become visible in the order they were given,
and a reader that has seen id N never later finds a smaller one appear (the stream's resume
after `Last-Event-ID`, the cursor of the pages). Retention takes the same lock, so the
aggregates below are only ever changed by one transaction at a time.

Aggregates (`stats` for facets and the namespaces overview, `resources` for per-resource
retention, `config.event_bytes` for the size limit) are kept by statement-level triggers over
transition tables: once per statement, whatever the number of rows, for every way an event
enters or leaves the table.
"""

from __future__ import annotations

import re

from logistis.collector.history.continuity import NEIGHBOURS, OBJECT_SUBRESOURCES
from logistis.collector.history.provenance import RECENT
from logistis.collector.store.where import Dialect

# Advisory lock keys: the order of writes, schema migrations, the retention pass.
WRITE_LOCK = 0x4C4F4749_0001  # "LOGI" 1
MIGRATION_LOCK = 0x4C4F4749_0002
RETENTION_LOCK = 0x4C4F4749_0003
# Each commit group notifies this channel with its last id, in its own transaction: delivered
# at commit, in commit order, to every collector listening (their live streams then read).
COMMIT_CHANNEL = "logistis_commits"

# Set on every connection: an acknowledged event must be on disk (the server's default, but a
# database may have it off), and no statement may hold a connection for ever.
SERVER_SETTINGS = {
    "synchronous_commit": "on",
    "statement_timeout": "30s",
    "application_name": "logistis-collector",
}

CREATE_SCHEMA_TABLE = """
    CREATE TABLE IF NOT EXISTS logistis_schema (version integer NOT NULL);
"""
SELECT_SCHEMA_VERSION = "SELECT max(version) FROM logistis_schema"
SELECT_FOREIGN_EVENTS = """
    SELECT to_regclass('events') IS NOT NULL AND to_regclass('logistis_schema') IS NULL
"""
TAKE_MIGRATION_LOCK = f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})"
SET_SCHEMA_VERSION = "INSERT INTO logistis_schema VALUES ($1)"

# The searched columns of each event (`query.TEXT_COLUMNS`) as (field, value) rows, as schema 6
# counts them in `search_values`.
_SEARCHED = """CROSS JOIN LATERAL (VALUES ('username', username), ('namespace', namespace),
        ('name', name), ('kind', kind), ('field_manager', field_manager)) AS v(field, value)"""


def _per_statement(name: str, event: str, body: str) -> str:
    """A function running `body` once per INSERT or DELETE statement on the events, over the
    statement's rows (`inserted` or `deleted`), and its trigger."""
    rows = "NEW TABLE AS inserted" if event == "INSERT" else "OLD TABLE AS deleted"
    return f"""
    CREATE FUNCTION logistis_{name}() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        {body}
        RETURN NULL;
    END $$;
    CREATE TRIGGER events_{name} AFTER {event} ON events REFERENCING {rows}
        FOR EACH STATEMENT EXECUTE FUNCTION logistis_{name}();
    """


# One commit group: identities, events in the order given (ids from the sequence, or the ones
# given when a history is copied), then the resources written beyond their per-resource limit
# trimmed to it. The events' columns come as one array each. As migration 8 left it (1 created
# it, 7 and 8 replaced it).
RECORD_FUNCTION = f"""
    CREATE OR REPLACE FUNCTION logistis_record(
        ids bigint[], uids uuid[], uid_texts text[], times bigint[], operations text[],
        dry_runs boolean[], usernames text[], identity_jsons text[], grps text[],
        versions text[], kinds text[], resources text[], subresources text[],
        namespaces text[], names text[], field_managers text[], changes text[], bodies bytea[]
    ) RETURNS void LANGUAGE plpgsql AS $$
    DECLARE
        keep bigint;
    BEGIN
        PERFORM pg_advisory_xact_lock({WRITE_LOCK});
        INSERT INTO identities (json) SELECT DISTINCT j FROM unnest(identity_jsons) AS j
            ON CONFLICT (json) DO NOTHING;
        -- The ordered subquery is not flattened, so nextval runs in the group's order.
        INSERT INTO events
            SELECT coalesce(g.id, nextval('events_id_seq')), g.time_ms, i.id, g.dry_run, g.uid,
                   g.uid_text, g.operation, g.username, g.grp, g.version, g.kind, g.resource,
                   g.subresource, g.namespace, g.name, g.field_manager, g.changes, g.body
            FROM (SELECT * FROM unnest(ids, uids, uid_texts, times, operations, dry_runs,
                                       usernames, identity_jsons, grps, versions, kinds,
                                       resources, subresources, namespaces, names,
                                       field_managers, changes, bodies)
                      WITH ORDINALITY AS u(id, uid, uid_text, time_ms, operation, dry_run,
                                           username, identity_json, grp, version, kind,
                                           resource, subresource, namespace, name,
                                           field_manager, changes, body, position)
                  ORDER BY position) AS g
            JOIN identities AS i ON i.json = g.identity_json
            ORDER BY g.position;
        SELECT value INTO keep FROM config WHERE key = 'max_events_per_resource';
        -- Most groups push no resource past its limit: no DELETE then (a DELETE, even of no
        -- row, fires the aggregates' trigger: ~0.5 ms a group).
        IF EXISTS (SELECT FROM unnest(namespaces, names, resources, grps)
                               AS t(namespace, name, resource, grp)
                   JOIN resources AS r USING (namespace, name, resource, grp)
                   WHERE r.count > keep) THEN
            -- The counts are exact (the statement's trigger has counted the group): the
            -- oldest beyond the limit are the first `count - keep` entries of the resource in
            -- events_by_identity. Read from the resource's first entry in that index's own
            -- order, which no other index has: with `namespace = ... ORDER BY id` the planner
            -- walked events_by_namespace and filtered (~95 entries per trim in a small store,
            -- the whole namespace's history in a large one). A row of another resource is
            -- never deleted, whatever the counts say.
            DELETE FROM events WHERE id IN (
                SELECT old.id
                FROM (SELECT DISTINCT * FROM unnest(namespaces, names, resources, grps)
                          AS t(namespace, name, resource, grp)) AS t
                JOIN resources AS r USING (namespace, name, resource, grp)
                CROSS JOIN LATERAL (
                    SELECT e.id, e.namespace, e.name, e.resource, e.grp FROM events AS e
                    WHERE (e.namespace, e.name, e.resource, e.grp)
                        >= (r.namespace, r.name, r.resource, r.grp)
                    ORDER BY e.namespace, e.name, e.resource, e.grp, e.id
                    LIMIT r.count - keep) AS old
                WHERE r.count > keep
                  AND (old.namespace, old.name, old.resource, old.grp)
                    = (r.namespace, r.name, r.resource, r.grp));
        END IF;
    END $$;
"""


# How a pass of the deriver saves what it derived: it can be derived again, so it is not flushed
# before the function returns; behind the write lock, no event is removed meanwhile.
_SAVING_DERIVED = f"""
        PERFORM set_config('synchronous_commit', 'off', true);
        PERFORM pg_advisory_xact_lock({WRITE_LOCK});
"""

MIGRATIONS: tuple[str, ...] = (
    # 1: the initial schema. Fixed-width columns first: no alignment padding between them.
    # Request uids that are UUIDs are kept as 16 bytes in `uid`, anything else in `uid_text`.
    # `body` is compressed already (collector.store.codec): STORAGE EXTERNAL spares PostgreSQL
    # a second compression attempt on the large ones.
    """
    CREATE TABLE config (key text PRIMARY KEY, value bigint NOT NULL);
    INSERT INTO config VALUES ('max_events_per_resource', 100), ('event_bytes', 0);
    CREATE TABLE identities (
        id serial PRIMARY KEY,
        json text NOT NULL UNIQUE,
        last_event bigint NOT NULL DEFAULT 0
    );
    CREATE SEQUENCE events_id_seq;
    CREATE TABLE events (
        id bigint PRIMARY KEY,
        time_ms bigint NOT NULL,
        identity integer NOT NULL,
        dry_run boolean NOT NULL,
        uid uuid,
        uid_text text,
        operation text NOT NULL,
        username text NOT NULL,
        grp text NOT NULL,
        version text NOT NULL,
        kind text NOT NULL,
        resource text NOT NULL,
        subresource text NOT NULL,
        namespace text NOT NULL,
        name text NOT NULL,
        field_manager text NOT NULL,
        changes text NOT NULL,
        body bytea NOT NULL
    );
    ALTER SEQUENCE events_id_seq OWNED BY events.id;
    ALTER TABLE events ALTER COLUMN body SET STORAGE EXTERNAL;
    CREATE INDEX events_by_namespace ON events (namespace, id);
    CREATE INDEX events_by_user ON events (username, id);
    CREATE INDEX events_by_identity ON events (namespace, name, resource, grp, id);
    -- Times rise with ids: a block range index finds old events at a few pages' cost.
    CREATE INDEX events_by_time ON events USING brin (time_ms);
    CREATE TABLE stats (
        namespace text NOT NULL, grp text NOT NULL, resource text NOT NULL, kind text NOT NULL,
        username text NOT NULL, operation text NOT NULL, count bigint NOT NULL,
        PRIMARY KEY (namespace, grp, resource, kind, username, operation)
    );
    CREATE INDEX stats_by_user ON stats (username, count);
    CREATE INDEX stats_by_kind ON stats (grp, resource, kind, count);
    CREATE INDEX stats_by_operation ON stats (operation, count);
    CREATE TABLE resources (
        namespace text NOT NULL, name text NOT NULL, resource text NOT NULL, grp text NOT NULL,
        count bigint NOT NULL,
        PRIMARY KEY (namespace, name, resource, grp)
    );

    CREATE FUNCTION logistis_events_counted() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO stats AS s
            SELECT namespace, grp, resource, kind, username, operation, count(*) FROM inserted
            GROUP BY namespace, grp, resource, kind, username, operation
            ON CONFLICT (namespace, grp, resource, kind, username, operation)
            DO UPDATE SET count = s.count + excluded.count;
        INSERT INTO resources AS r
            SELECT namespace, name, resource, grp, count(*) FROM inserted
            GROUP BY namespace, name, resource, grp
            ON CONFLICT (namespace, name, resource, grp)
            DO UPDATE SET count = r.count + excluded.count;
        UPDATE identities AS i SET last_event = m.last
            FROM (SELECT identity, max(id) AS last FROM inserted GROUP BY identity) AS m
            WHERE i.id = m.identity;
        UPDATE config SET value = value + (SELECT coalesce(sum(pg_column_size(e.*)), 0)
                                           FROM inserted AS e)
            WHERE key = 'event_bytes';
        RETURN NULL;
    END $$;
    CREATE TRIGGER events_counted AFTER INSERT ON events
        REFERENCING NEW TABLE AS inserted
        FOR EACH STATEMENT EXECUTE FUNCTION logistis_events_counted();

    CREATE FUNCTION logistis_events_uncounted() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE stats AS s SET count = s.count - d.n
            FROM (SELECT namespace, grp, resource, kind, username, operation, count(*) AS n
                  FROM deleted GROUP BY namespace, grp, resource, kind, username, operation) AS d
            WHERE (s.namespace, s.grp, s.resource, s.kind, s.username, s.operation)
                = (d.namespace, d.grp, d.resource, d.kind, d.username, d.operation);
        DELETE FROM stats AS s
            USING (SELECT DISTINCT namespace, grp, resource, kind, username, operation
                   FROM deleted) AS d
            WHERE (s.namespace, s.grp, s.resource, s.kind, s.username, s.operation)
                = (d.namespace, d.grp, d.resource, d.kind, d.username, d.operation)
              AND s.count <= 0;
        UPDATE resources AS r SET count = r.count - d.n
            FROM (SELECT namespace, name, resource, grp, count(*) AS n
                  FROM deleted GROUP BY namespace, name, resource, grp) AS d
            WHERE (r.namespace, r.name, r.resource, r.grp)
                = (d.namespace, d.name, d.resource, d.grp);
        DELETE FROM resources AS r
            USING (SELECT DISTINCT namespace, name, resource, grp FROM deleted) AS d
            WHERE (r.namespace, r.name, r.resource, r.grp)
                = (d.namespace, d.name, d.resource, d.grp)
              AND r.count <= 0;
        UPDATE config SET value = value - (SELECT coalesce(sum(pg_column_size(e.*)), 0)
                                           FROM deleted AS e)
            WHERE key = 'event_bytes';
        RETURN NULL;
    END $$;
    CREATE TRIGGER events_uncounted AFTER DELETE ON events
        REFERENCING OLD TABLE AS deleted
        FOR EACH STATEMENT EXECUTE FUNCTION logistis_events_uncounted();

    """
    + RECORD_FUNCTION,
    # 2: continuity and outcome kept as first judged (collector/history/judgements.py; `settled`: the
    # outcome is final), removed with their events; the collectors' heartbeats, a row per run.
    """
    CREATE TABLE judgements (
        id bigint PRIMARY KEY REFERENCES events (id) ON DELETE CASCADE,
        continuity text,
        unrecorded text NOT NULL,
        applied boolean,
        settled boolean NOT NULL,
        checked_until bigint NOT NULL
    );
    CREATE TABLE heartbeats (
        collector text NOT NULL,
        started_ms bigint NOT NULL,
        beat_ms bigint NOT NULL,
        stopped_ms bigint,
        PRIMARY KEY (collector, started_ms)
    );
    """,
    # 3: change summaries are derived after the commit; every event before this one has its own.
    """
    INSERT INTO config VALUES ('derived_up_to', (SELECT coalesce(max(id), 0) FROM events));
    """,
    # 4: every statement that adds events tells the collectors listening, once per statement
    # (a commit group is one), with only its last id: a NOTIFY payload is small, and a
    # listener reads what it has not seen from the table anyway.
    f"""
    CREATE FUNCTION logistis_events_notified() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM pg_notify('{COMMIT_CHANNEL}', (SELECT max(id) FROM inserted)::text);
        RETURN NULL;
    END $$;
    CREATE TRIGGER events_notified AFTER INSERT ON events
        REFERENCING NEW TABLE AS inserted
        FOR EACH STATEMENT EXECUTE FUNCTION logistis_events_notified();
    """,
    # 5: continuity and outcome are judged by the deriver too, from the next event on (see
    # collector/history/judgements.py): from `judged_from` up to `derived_up_to`, an event without a
    # row in `judgements` is a usual one. Those before were judged when read, and still are.
    """
    INSERT INTO config VALUES ('judged_from', (SELECT coalesce(max(id), 0) + 1 FROM events));
    """,
    # 6: the text search (`q`) looks for its text among the distinct values of the searched
    # columns (a few thousand rows where the events are millions), then reads only the events
    # holding one of them, and none when no value holds it. Counted like `stats`, so a value
    # leaves with its last event.
    # Events are locked against writes first (collectors of the previous version may still be
    # recording): none may come between the count and its trigger.
    f"""
    LOCK TABLE events IN SHARE ROW EXCLUSIVE MODE;
    CREATE TABLE search_values (
        field text NOT NULL,
        value text NOT NULL,
        count bigint NOT NULL,
        PRIMARY KEY (field, value)
    );
    INSERT INTO search_values
        SELECT v.field, v.value, count(*) FROM events
        {_SEARCHED}
        GROUP BY v.field, v.value;

    """
    + _per_statement(
        "values_counted",
        "INSERT",
        f"""
        INSERT INTO search_values AS s
            SELECT v.field, v.value, count(*) FROM inserted {_SEARCHED}
            GROUP BY v.field, v.value
            ON CONFLICT (field, value) DO UPDATE SET count = s.count + excluded.count;
        """,
    )
    + _per_statement(
        "values_uncounted",
        "DELETE",
        f"""
        UPDATE search_values AS s SET count = s.count - d.n
            FROM (SELECT v.field, v.value, count(*) AS n FROM deleted {_SEARCHED}
                  GROUP BY v.field, v.value) AS d
            WHERE (s.field, s.value) = (d.field, d.value);
        DELETE FROM search_values AS s
            USING (SELECT DISTINCT v.field, v.value FROM deleted {_SEARCHED}) AS d
            WHERE (s.field, s.value) = (d.field, d.value) AND s.count <= 0;
        """,
    ),
    # 7: a pass of the deriver saved in one statement (see SAVE_DERIVED): the write lock is
    # held for the server's own work, not for round trips to a collector whose event loop is
    # busy answering reviews (commit groups wait behind it). Per-resource trimming reads the
    # oldest events first (RECORD_FUNCTION). The facets' covering indexes on `stats` held its
    # counts, so every commit group wrote a new entry in each and left a dead row version
    # behind (~180 of ~1,030 bytes per Deployment update until a vacuum); without them a count
    # changes in place (a HOT update) and a facet reads the table whole, 64,000 rows at
    # 1,000,000 events.
    RECORD_FUNCTION
    + f"""
    DROP INDEX stats_by_user, stats_by_kind, stats_by_operation;
    CREATE FUNCTION logistis_save_derived(
        mark bigint, summarised bigint[], summaries text[], judged bigint[],
        continuities text[], unrecorded_ops text[], applied_flags boolean[],
        settled_flags boolean[], checked_untils bigint[], usual bigint[]
    ) RETURNS void LANGUAGE plpgsql AS $$
    BEGIN{_SAVING_DERIVED}
        -- Another collector on the database may have derived past this pass meanwhile: its
        -- judgements saw at least as much, and are kept.
        IF (SELECT value FROM config WHERE key = 'derived_up_to' FOR UPDATE) >= mark THEN
            RETURN;
        END IF;
        IF cardinality(summarised) > 0 THEN
            -- The size aggregate grows by what the summaries add to their rows.
            WITH derived AS (
                UPDATE events AS e SET changes = d.changes
                FROM unnest(summarised, summaries) AS d(id, changes)
                WHERE e.id = d.id AND e.changes = ''
                RETURNING octet_length(d.changes) AS grown
            )
            UPDATE config SET value = value + (SELECT coalesce(sum(grown), 0) FROM derived)
                WHERE key = 'event_bytes';
        END IF;
        -- An event removed meanwhile has no judgement to keep (its row would break the
        -- foreign key); behind the write lock, no removal is under way.
        INSERT INTO judgements
            SELECT j.* FROM unnest(judged, continuities, unrecorded_ops, applied_flags,
                                   settled_flags, checked_untils)
                AS j(id, continuity, unrecorded, applied, settled, checked_until)
            WHERE EXISTS (SELECT FROM events WHERE events.id = j.id)
            ON CONFLICT (id) DO UPDATE SET continuity = excluded.continuity,
                unrecorded = excluded.unrecorded, applied = excluded.applied,
                settled = excluded.settled, checked_until = excluded.checked_until;
        -- The usual judgement is no row.
        DELETE FROM judgements WHERE id = ANY(usual);
        UPDATE config SET value = greatest(value, mark) WHERE key = 'derived_up_to';
    END $$;
    """,
    # 8: per-resource trimming reads the resource's entries of events_by_identity, in that
    # index's order (RECORD_FUNCTION).
    RECORD_FUNCTION,
)

# 9: who acted and what manages the object (collector/history/provenance.py): a row per event the deriver
# reaches from this schema on; an event without one (recorded before) is derived when read.
# The hand edits are few: a partial index lists them for the namespaces' counts and for the
# managing tool's next write. A pass's rows are saved in one statement, behind the write lock
# (no event is removed meanwhile). A step of its own, kept apart from those before, so that it
# can take another number.
PROVENANCE_MIGRATION = f"""
    CREATE TABLE provenance (
        id bigint PRIMARY KEY REFERENCES events (id) ON DELETE CASCADE,
        decided_by bigint,
        hand_edit boolean NOT NULL,
        reverted boolean NOT NULL DEFAULT false,
        actor text NOT NULL,
        tool text,
        managed_tool text,
        managed_name text,
        managed_namespace text,
        reverts text NOT NULL DEFAULT '[]',
        revision text
    );
    CREATE INDEX provenance_hand_edits ON provenance (id) WHERE hand_edit;
    CREATE FUNCTION logistis_save_provenance(
        ids bigint[], actors text[], tools text[], managed_tools text[], managed_names text[],
        managed_namespaces text[], hand_edits boolean[], reverts text[], revisions text[],
        writers bigint[], put_back boolean[], decided bigint[]
    ) RETURNS void LANGUAGE plpgsql AS $$
    BEGIN{_SAVING_DERIVED}
        -- Derived again (after a crash before the mark moved), an event keeps the decision a
        -- later write made about it.
        INSERT INTO provenance (id, actor, tool, managed_tool, managed_name, managed_namespace,
                                hand_edit, reverts, revision)
            SELECT r.* FROM unnest(ids, actors, tools, managed_tools, managed_names,
                                   managed_namespaces, hand_edits, reverts, revisions)
                AS r(id, actor, tool, managed_tool, managed_name, managed_namespace, hand_edit,
                     reverts, revision)
            WHERE EXISTS (SELECT FROM events WHERE events.id = r.id)
            ON CONFLICT (id) DO UPDATE SET actor = excluded.actor, tool = excluded.tool,
                managed_tool = excluded.managed_tool, managed_name = excluded.managed_name,
                managed_namespace = excluded.managed_namespace,
                hand_edit = excluded.hand_edit, reverts = excluded.reverts,
                revision = excluded.revision;
        UPDATE provenance AS p SET decided_by = d.writer, reverted = d.back
            FROM unnest(writers, put_back, decided) AS d(writer, back, id)
            WHERE p.id = d.id;
    END $$;
"""
MIGRATIONS += (PROVENANCE_MIGRATION,)

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

# 10: what is due to each notification sink, queued in the statement that saves the deriver's
# pass that matched it (SAVE_DERIVED_QUEUING) and kept once delivered, so that deriving the same
# events again (another collector's pass, a crash before the mark moved) queues nothing twice.
# Collectors claim items with FOR UPDATE SKIP LOCKED and a lease. States: 0 waiting, 1 sent,
# 2 failed (refused for good), 3 dropped (too old). A step of its own, so that it can take
# another number.
OUTBOX_MIGRATION = """
    CREATE TABLE outbox (
        event_id bigint NOT NULL REFERENCES events (id) ON DELETE CASCADE,
        queued_ms bigint NOT NULL,
        due_ms bigint NOT NULL,
        claimed_until_ms bigint NOT NULL DEFAULT 0,
        attempts integer NOT NULL DEFAULT 0,
        state smallint NOT NULL DEFAULT 0,
        sink text NOT NULL,
        rule text NOT NULL,
        PRIMARY KEY (event_id, sink)
    );
    CREATE INDEX outbox_waiting ON outbox (due_ms) WHERE state = 0;
"""
MIGRATIONS += (OUTBOX_MIGRATION,)

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

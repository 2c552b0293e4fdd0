"""The PostgreSQL store's schema: its migrations, an ordered list of steps.

`logistis_schema` holds the number of steps applied; opening the store applies the ones after,
one collector at a time (collector/store/postgres.py). A step is never changed once released:
a new one is added at the end.

Aggregates (`stats` for facets and the namespaces overview, `resources` for per-resource
retention, `config.event_bytes` for the size limit) are kept by statement-level triggers over
transition tables: once per statement, whatever the number of rows, for every way an event
enters or leaves the table.
"""

from __future__ import annotations

from logistis.collector.store import insight_counts as counts
from logistis.collector.store.postgres_functions import (
    COMMIT_CHANNEL,
    MIGRATION_LOCK,
    RECORD_FUNCTION,
    RECORD_PARAMETERS,
    RECORD_RETURNING_IDS_FUNCTION,
    SAVE_DERIVED_FUNCTION,
    SAVE_PROVENANCE_FUNCTION,
)
from logistis.collector.store.protocol import KEEP_PER_RESOURCE

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


MIGRATIONS: tuple[str, ...] = (
    # 1: the initial schema. Fixed-width columns first: no alignment padding between them.
    # Request uids that are UUIDs are kept as 16 bytes in `uid`, anything else in `uid_text`.
    # `body` is compressed already (collector.store.codec): STORAGE EXTERNAL spares PostgreSQL
    # a second compression attempt on the large ones.
    f"""
    CREATE TABLE config (key text PRIMARY KEY, value bigint NOT NULL);
    INSERT INTO config VALUES ('max_events_per_resource', {KEEP_PER_RESOURCE}), ('event_bytes', 0);
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
    + """
    DROP INDEX stats_by_user, stats_by_kind, stats_by_operation;
    """
    + SAVE_DERIVED_FUNCTION,
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
PROVENANCE_MIGRATION = (
    """
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
"""
    + SAVE_PROVENANCE_FUNCTION
)
MIGRATIONS += (PROVENANCE_MIGRATION,)

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


def _buckets(all_grains: tuple[int, ...], namespace_grains: tuple[int, ...] = ()) -> str:
    """The rows an event (`e`) is counted in: `b.grain`, and `b.scope` where the table has
    namespaces: each grain of all namespaces, and of the event's own."""
    pairs = [f"({g}::bigint, '{counts.ALL}'::text)" for g in all_grains]
    pairs += [f"({g}::bigint, e.namespace)" for g in namespace_grains]
    return f"CROSS JOIN LATERAL (VALUES {', '.join(pairs)}) AS b(grain, scope)"


def _counted_in(table: str, key: str, source: str, buckets: str, sign: str = "") -> str:
    """Add (or, `sign` '-', take) `source`'s events (as `e`) to the rows of `table` named by
    `buckets` (see `_buckets`) and `key`: columns of `e` (for the activity `actor`, and the
    hand edits counted from `e.hand_edit`)."""
    activity = table == "insight_activity"
    names = ["grain", *(["namespace"] if activity else []), "start_ms"]
    names += [c.removeprefix("e.") for c in key.split(", ")]
    values = ["b.grain", *(["b.scope"] if activity else []), "e.time_ms - e.time_ms % b.grain"]
    values += key.split(", ")
    grouped = ", ".join(str(n + 1) for n in range(len(values)))
    counted = f"{sign}count(*)" + (
        f", {sign}count(*) FILTER (WHERE e.hand_edit)" if activity else ""
    )
    added = ", hand_edits = t.hand_edits + excluded.hand_edits" if activity else ""
    return f"""
        INSERT INTO {table} AS t ({", ".join(names)}, count{", hand_edits" if activity else ""})
            SELECT {", ".join(values)}, {counted} FROM {source} {buckets}
            GROUP BY {grouped}
            ON CONFLICT ({", ".join(names)}) DO UPDATE SET count = t.count + excluded.count{added};"""


_EVENTS = _buckets(counts.ALL_GRAINS, counts.NAMESPACE_GRAINS)
_ACTORS = _buckets(counts.ALL_GRAINS, counts.NAMESPACE_ACTOR_GRAINS)
_TOPS = _buckets(counts.TOPS_GRAINS)
_EVERY = f"'{counts.EVERY}'::text AS actor, false AS hand_edit"


def _events_counted(rows: str, sign: str = "") -> str:
    """Count the events of `rows` (a table of events) in or out of every insights table."""
    return (
        _counted_in(
            "insight_activity",
            "e.actor",
            f"(SELECT time_ms, namespace, {_EVERY} FROM {rows}) AS e",
            _EVENTS,
            sign,
        )
        + _counted_in("insight_users", "e.username", f"{rows} AS e", _TOPS, sign)
        + _counted_in("insight_kinds", "e.grp, e.resource, e.kind", f"{rows} AS e", _TOPS, sign)
    )


def _actors_counted(rows: str, sign: str = "") -> str:
    """Count who acted in `rows` (a query of time_ms, namespace, actor, hand_edit) in or out."""
    return _counted_in("insight_activity", "e.actor", f"({rows}) AS e", _ACTORS, sign)


_PROVENANCE_OF = (
    "SELECT ev.time_ms, ev.namespace, p.actor, p.hand_edit FROM {rows} AS p"
    " JOIN events AS ev ON ev.id = p.id"
)
# The provenance rows an UPDATE changed the actor or hand edit of, as they were or are now.
_CHANGED = """SELECT ev.time_ms, ev.namespace, p.actor, p.hand_edit
        FROM was JOIN now ON now.id = was.id JOIN events AS ev ON ev.id = now.id
        JOIN {side} AS p ON p.id = now.id
        WHERE (was.actor, was.hand_edit) IS DISTINCT FROM (now.actor, now.hand_edit)"""


def _emptied(table: str, buckets: str) -> str:
    """Remove the rows of `table` the deleted events left counting nothing."""
    scope = "AND t.namespace = d.scope " if table == "insight_activity" else ""
    pick = ", b.scope" if scope else ""
    return f"""
        DELETE FROM {table} AS t
            USING (SELECT DISTINCT b.grain{pick}, e.time_ms - e.time_ms % b.grain AS start
                   FROM deleted AS e {buckets}) AS d
            WHERE t.grain = d.grain {scope}AND t.start_ms = d.start AND t.count <= 0;"""


# 11: the insights' counts per bucket (collector/store/insight_counts.py), counted from the
# stored events and provenance rows, by statement-level triggers: the events with each
# statement that adds or removes them, who acted with each that saves provenance rows. An
# event removed takes its provenance row and its counts with it, in the events' trigger: the
# foreign key's cascade removed the row before a statement trigger could count it out.
# The objects with the most events kept are listed by count (the top objects of a long span).
# The planner is told how grains and scopes go together: all namespaces' hours are a few
# thousand rows, not a grain's share of the scope's (then it read the whole table).
# Events are locked against writes first, as in step 6.
INSIGHT_COUNTS_MIGRATION = (
    """
    LOCK TABLE events IN SHARE ROW EXCLUSIVE MODE;
    CREATE TABLE insight_activity (
        grain bigint NOT NULL, start_ms bigint NOT NULL, count bigint NOT NULL,
        hand_edits bigint NOT NULL DEFAULT 0, namespace text NOT NULL, actor text NOT NULL,
        PRIMARY KEY (grain, namespace, start_ms, actor)
    );
    CREATE TABLE insight_users (
        grain bigint NOT NULL, start_ms bigint NOT NULL, count bigint NOT NULL,
        username text NOT NULL,
        PRIMARY KEY (grain, start_ms, username)
    );
    CREATE TABLE insight_kinds (
        grain bigint NOT NULL, start_ms bigint NOT NULL, count bigint NOT NULL,
        grp text NOT NULL, resource text NOT NULL, kind text NOT NULL,
        PRIMARY KEY (grain, start_ms, grp, resource, kind)
    );
    CREATE INDEX resources_by_count ON resources (count);
    ALTER TABLE provenance DROP CONSTRAINT provenance_id_fkey;
    CREATE STATISTICS insight_activity_scopes (mcv, dependencies)
        ON grain, namespace FROM insight_activity;
    """
    + _events_counted("events")
    + _actors_counted(_PROVENANCE_OF.format(rows="provenance"))
    + _per_statement("insights_counted", "INSERT", _events_counted("inserted"))
    + _per_statement(
        "insights_uncounted",
        "DELETE",
        _events_counted("deleted", "-")
        + _actors_counted(
            "SELECT d.time_ms, d.namespace, p.actor, p.hand_edit FROM deleted AS d"
            " JOIN provenance AS p ON p.id = d.id",
            "-",
        )
        + """
        DELETE FROM provenance AS p USING deleted AS d WHERE p.id = d.id;
        """
        + _emptied("insight_activity", _EVENTS)
        + _emptied("insight_users", _TOPS)
        + _emptied("insight_kinds", _TOPS),
    )
    + f"""
    CREATE FUNCTION logistis_provenance_counted() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        {_actors_counted(_PROVENANCE_OF.format(rows="added"))}
        RETURN NULL;
    END $$;
    CREATE TRIGGER provenance_counted AFTER INSERT ON provenance
        REFERENCING NEW TABLE AS added
        FOR EACH STATEMENT EXECUTE FUNCTION logistis_provenance_counted();
    CREATE FUNCTION logistis_provenance_recounted() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        {_actors_counted(_CHANGED.format(side="was"), "-")}
        {_actors_counted(_CHANGED.format(side="now"))}
        RETURN NULL;
    END $$;
    CREATE TRIGGER provenance_recounted AFTER UPDATE ON provenance
        REFERENCING OLD TABLE AS was NEW TABLE AS now
        FOR EACH STATEMENT EXECUTE FUNCTION logistis_provenance_recounted();
    """
)
MIGRATIONS += (INSIGHT_COUNTS_MIGRATION,)

# 12: a commit group's statement returns the ids it gave its events, in the group's order: the
# collector keeps the group's objects by id for its deriver (collector/store/handoff.py) rather
# than have it read back and decode the bodies just stored. A function's result type cannot be
# replaced: it is dropped and made again in the step's transaction. Collectors of the previous
# version call it as before, and pass over what it returns.
RECORD_IDS_MIGRATION = (
    f"DROP FUNCTION logistis_record({RECORD_PARAMETERS});" + RECORD_RETURNING_IDS_FUNCTION
)
MIGRATIONS += (RECORD_IDS_MIGRATION,)

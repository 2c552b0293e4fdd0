"""The SQLite store's schema: its pragmas and its migrations, an ordered list of steps.

A file's `user_version` is the number of steps applied; opening it applies the ones after
(collector/store/sqlite_writes.py). A step is never changed once released: a new one is
added at the end.
"""

from __future__ import annotations

from logistis.collector.store import insight_counts as counts
from logistis.collector.store.protocol import KEEP_PER_RESOURCE
from logistis.collector.store.where import TEXT_COLUMNS

# A fixed application_id marks the file as ours: a foreign SQLite file is refused, not reset.
APPLICATION_ID = 0x4C4F4749  # "LOGI"

PRAGMAS_WRITER = (
    # 8 KiB pages: an event row of ~700 bytes leaves less slack than in 4 KiB pages (-7% bytes
    # per event), while a commit rewrites its ~16 touched pages in the WAL at half the cost of
    # 16 KiB ones (a one-event commit ~1.0 -> ~0.46 ms CPU). Only for a new file (before WAL).
    "PRAGMA page_size=8192",
    "PRAGMA journal_mode=WAL",
    # FULL: a committed group survives power loss too, not only a killed process.
    "PRAGMA synchronous=FULL",
    # A statement that changes several rows inside a transaction (a DELETE with its trigger, an
    # upgrade) keeps a statement journal; in a temp file it spilled to disk on every commit
    # (open, ~100 page writes, unlink). In memory: ~40% less CPU per stored event (schema 6).
    "PRAGMA temp_store=MEMORY",
    "PRAGMA foreign_keys=OFF",
    "PRAGMA busy_timeout=5000",
)
PRAGMAS_READER = ("PRAGMA query_only=ON", "PRAGMA busy_timeout=5000")

MIGRATIONS: tuple[str, ...] = (
    # 1: the initial schema
    f"""
    PRAGMA application_id={APPLICATION_ID};
    CREATE TABLE config (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
    INSERT INTO config VALUES ('max_events_per_resource', {KEEP_PER_RESOURCE});
    CREATE TABLE events (
        id INTEGER PRIMARY KEY,
        uid TEXT NOT NULL,
        time_ms INTEGER NOT NULL,
        operation TEXT NOT NULL,
        dry_run INTEGER NOT NULL,
        username TEXT NOT NULL,
        user_json TEXT NOT NULL,
        grp TEXT NOT NULL,
        version TEXT NOT NULL,
        kind TEXT NOT NULL,
        resource TEXT NOT NULL,
        subresource TEXT NOT NULL,
        namespace TEXT NOT NULL,
        name TEXT NOT NULL,
        field_manager TEXT NOT NULL,
        changes TEXT NOT NULL,
        body BLOB NOT NULL
    );
    CREATE INDEX events_by_namespace ON events (namespace, id);
    CREATE INDEX events_by_user ON events (username, id);
    CREATE INDEX events_by_identity ON events (namespace, name, resource, grp, id);
    CREATE INDEX events_by_time ON events (time_ms);
    CREATE TABLE stats (
        namespace TEXT NOT NULL, grp TEXT NOT NULL, resource TEXT NOT NULL, kind TEXT NOT NULL,
        username TEXT NOT NULL, operation TEXT NOT NULL, count INTEGER NOT NULL,
        PRIMARY KEY (namespace, grp, resource, kind, username, operation)
    ) WITHOUT ROWID;
    CREATE TABLE resources (
        namespace TEXT NOT NULL, name TEXT NOT NULL, resource TEXT NOT NULL, grp TEXT NOT NULL,
        count INTEGER NOT NULL,
        PRIMARY KEY (namespace, name, resource, grp)
    ) WITHOUT ROWID;
    CREATE TRIGGER events_counted AFTER INSERT ON events BEGIN
        INSERT INTO stats VALUES (NEW.namespace, NEW.grp, NEW.resource, NEW.kind,
                                  NEW.username, NEW.operation, 1)
            ON CONFLICT DO UPDATE SET count = count + 1;
        INSERT INTO resources VALUES (NEW.namespace, NEW.name, NEW.resource, NEW.grp, 1)
            ON CONFLICT DO UPDATE SET count = count + 1;
        DELETE FROM events WHERE id IN (
            SELECT id FROM events
            WHERE namespace = NEW.namespace AND name = NEW.name
              AND resource = NEW.resource AND grp = NEW.grp
            ORDER BY id DESC
            LIMIT -1 OFFSET (SELECT value FROM config WHERE key = 'max_events_per_resource')
        );
    END;
    CREATE TRIGGER events_uncounted AFTER DELETE ON events BEGIN
        UPDATE stats SET count = count - 1
            WHERE namespace = OLD.namespace AND grp = OLD.grp AND resource = OLD.resource
              AND kind = OLD.kind AND username = OLD.username AND operation = OLD.operation;
        DELETE FROM stats
            WHERE namespace = OLD.namespace AND grp = OLD.grp AND resource = OLD.resource
              AND kind = OLD.kind AND username = OLD.username AND operation = OLD.operation
              AND count <= 0;
        UPDATE resources SET count = count - 1
            WHERE namespace = OLD.namespace AND name = OLD.name
              AND resource = OLD.resource AND grp = OLD.grp;
        DELETE FROM resources
            WHERE namespace = OLD.namespace AND name = OLD.name
              AND resource = OLD.resource AND grp = OLD.grp AND count <= 0;
    END;
    """,
    # 2: facets group the aggregate by user, kind or operation: covering indexes spare them
    # a sort of the whole table (64,000 rows at 1M events: ~100 -> ~20 ms for all four).
    """
    CREATE INDEX stats_by_user ON stats (username, count);
    CREATE INDEX stats_by_kind ON stats (grp, resource, kind, count);
    CREATE INDEX stats_by_operation ON stats (operation, count);
    """,
    # 3: who did it beyond the name (uid, groups, extra) is kept once per distinct identity
    # instead of in every event: a controller's `extra` alone is ~300 bytes, on every write.
    # `last_event` bounds the newest event naming it, so retention can drop the unused ones.
    """
    CREATE TABLE identities (
        id INTEGER PRIMARY KEY,
        json TEXT NOT NULL UNIQUE,
        last_event INTEGER NOT NULL DEFAULT 0
    );
    ALTER TABLE events ADD COLUMN identity INTEGER;
    CREATE TRIGGER events_identified AFTER INSERT ON events WHEN NEW.identity IS NOT NULL BEGIN
        UPDATE identities SET last_event = NEW.id WHERE id = NEW.identity;
    END;
    """,
    # 4: continuity and outcome of events (logistis/collector/history/continuity.py) computed when first
    # read and kept; `settled` says whether `applied` is final (a later event can still decide
    # it), `checked_until` the newest later event an open one was judged with. The collectors'
    # heartbeats: one row per run, its last beat moved forward in place.
    """
    CREATE TABLE judgements (
        id INTEGER PRIMARY KEY,
        continuity TEXT,
        unrecorded TEXT NOT NULL,
        applied INTEGER,
        settled INTEGER NOT NULL,
        checked_until INTEGER NOT NULL
    );
    CREATE TRIGGER events_unjudged AFTER DELETE ON events BEGIN
        DELETE FROM judgements WHERE id = OLD.id;
    END;
    CREATE TABLE heartbeats (
        collector TEXT NOT NULL,
        started_ms INTEGER NOT NULL,
        beat_ms INTEGER NOT NULL,
        stopped_ms INTEGER,
        PRIMARY KEY (collector, started_ms)
    ) WITHOUT ROWID;
    """,
    # 5: change summaries are derived after the commit; every event before this one has its own.
    # `derived_up_to`: every event up to this id has its derived fields (its `changes` is no
    # longer '', rows.PENDING).
    """
    INSERT INTO config VALUES ('derived_up_to', (SELECT coalesce(max(id), 0) FROM events));
    """,
    # 6: continuity and outcome are judged by the deriver too, from the next event on (see
    # collector/history/judgements.py): from `judged_from` up to `derived_up_to`, an event without a
    # row in `judgements` is a usual one. Those before were judged when read, and still are.
    """
    INSERT INTO config VALUES ('judged_from', (SELECT coalesce(max(id), 0) + 1 FROM events));
    """,
    # 7: the aggregates are counted once per commit group, retention DELETE and copied chunk,
    # in its transaction (collector/store/sqlite_aggregates.py), no longer by a trigger per
    # row; per-resource retention trims only the resources a group pushed past the limit.
    # The text search (`q`) looks for its text among the distinct values of the searched
    # columns (`search_values`, counted like `stats`) first, and reads no event when no value
    # holds it. Counting the stored events into it takes ~3.4 s per million (2 cores).
    """
    DROP TRIGGER events_counted;
    DROP TRIGGER events_uncounted;
    DROP TRIGGER events_identified;
    CREATE TABLE search_values (
        field TEXT NOT NULL, value TEXT NOT NULL, count INTEGER NOT NULL,
        PRIMARY KEY (field, value)
    ) WITHOUT ROWID;
    """
    + "INSERT INTO search_values "
    + " UNION ALL ".join(
        f"SELECT '{column}', {column}, count(*) FROM events GROUP BY {column}"
        for column in TEXT_COLUMNS
    ),
)

# 8: who acted and what manages the object (collector/history/provenance.py): a row per event the deriver
# reaches from this schema on; an event without one (recorded before) is derived when read.
# The hand edits are few: a partial index lists them for the namespaces' counts and for the
# managing tool's next write. Removed with their events, as judgements are. A step of its own,
# kept apart from those before, so that it can take another number.
PROVENANCE_MIGRATION = """
    CREATE TABLE provenance (
        id INTEGER PRIMARY KEY,
        actor TEXT NOT NULL,
        tool TEXT,
        managed_tool TEXT,
        managed_name TEXT,
        managed_namespace TEXT,
        hand_edit INTEGER NOT NULL,
        decided_by INTEGER,
        reverted INTEGER NOT NULL DEFAULT 0,
        reverts TEXT NOT NULL DEFAULT '[]',
        revision TEXT
    );
    CREATE INDEX provenance_hand_edits ON provenance (id) WHERE hand_edit;
    DROP TRIGGER events_unjudged;
    CREATE TRIGGER events_unjudged AFTER DELETE ON events BEGIN
        DELETE FROM judgements WHERE id = OLD.id;
        DELETE FROM provenance WHERE id = OLD.id;
    END;
"""
MIGRATIONS += (PROVENANCE_MIGRATION,)

# 9: what is due to each notification sink, queued with the deriver's pass that matched it
# (SAVE_DERIVED's transaction) and kept once delivered, so that deriving the same events again
# (after a crash before the mark moved) queues nothing twice. States: 0 waiting, 1 sent,
# 2 failed (refused for good), 3 dropped (too old). Removed with their events. A step of its
# own, so that it can take another number.
OUTBOX_MIGRATION = """
    CREATE TABLE outbox (
        event_id INTEGER NOT NULL,
        sink TEXT NOT NULL,
        rule TEXT NOT NULL,
        queued_ms INTEGER NOT NULL,
        due_ms INTEGER NOT NULL,
        claimed_until_ms INTEGER NOT NULL DEFAULT 0,
        attempts INTEGER NOT NULL DEFAULT 0,
        state INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (event_id, sink)
    ) WITHOUT ROWID;
    CREATE INDEX outbox_waiting ON outbox (due_ms) WHERE state = 0;
    DROP TRIGGER events_unjudged;
    CREATE TRIGGER events_unjudged AFTER DELETE ON events BEGIN
        DELETE FROM judgements WHERE id = OLD.id;
        DELETE FROM provenance WHERE id = OLD.id;
        DELETE FROM outbox WHERE event_id = OLD.id;
    END;
"""
MIGRATIONS += (OUTBOX_MIGRATION,)


def _buckets(all_grains: tuple[int, ...], namespace_grains: tuple[int, ...]) -> str:
    """The activity rows an event (`e`) is counted in: `b.grain`, `_SCOPE` and `_START` for
    each grain of all namespaces and of its own."""
    pairs = [(g, 1) for g in all_grains] + [(g, 0) for g in namespace_grains]
    rows = " UNION ALL ".join(f"SELECT {g} AS grain, {whole} AS whole" for g, whole in pairs)
    return f"({rows}) AS b"


_SCOPE = f"CASE WHEN b.whole THEN '{counts.ALL}' ELSE e.namespace END"
_START = "e.time_ms - e.time_ms % b.grain"
_ACTOR_BUCKETS = _buckets(counts.ALL_GRAINS, counts.NAMESPACE_ACTOR_GRAINS)
_TOPS_BUCKETS = _buckets(counts.TOPS_GRAINS, ())


def _actor_counted(source: str, where: str, actor: str, hand_edit: str, sign: str) -> str:
    """Count an event's provenance into (or, `sign` '-', out of) the activity: `source` gives
    the event as `e`."""
    return f"""
        INSERT INTO insight_activity (grain, namespace, start_ms, actor, count, hand_edits)
            SELECT b.grain, {_SCOPE}, {_START}, {actor}, {sign}1, {sign}{hand_edit}
            FROM {source}, {_ACTOR_BUCKETS} WHERE {where}
            ON CONFLICT DO UPDATE SET count = count + excluded.count,
                hand_edits = hand_edits + excluded.hand_edits;"""


INSIGHT_TABLES = """
    CREATE TABLE insight_activity (
        grain INTEGER NOT NULL, namespace TEXT NOT NULL, start_ms INTEGER NOT NULL,
        actor TEXT NOT NULL, count INTEGER NOT NULL, hand_edits INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (grain, namespace, start_ms, actor)
    ) WITHOUT ROWID;
    CREATE TABLE insight_users (
        grain INTEGER NOT NULL, start_ms INTEGER NOT NULL, username TEXT NOT NULL,
        count INTEGER NOT NULL,
        PRIMARY KEY (grain, start_ms, username)
    ) WITHOUT ROWID;
    CREATE TABLE insight_kinds (
        grain INTEGER NOT NULL, start_ms INTEGER NOT NULL, grp TEXT NOT NULL,
        resource TEXT NOT NULL, kind TEXT NOT NULL, count INTEGER NOT NULL,
        PRIMARY KEY (grain, start_ms, grp, resource, kind)
    ) WITHOUT ROWID;
"""

# 11: the insights' counts per bucket (collector/store/insight_counts.py), counted from the
# stored events and provenance rows. The events are counted with each commit group and
# retention DELETE (sqlite_aggregates); who acted, with the provenance rows, by the triggers
# below. An event removed takes its provenance's counts with it. The objects with the most
# events kept are listed by count (the top objects of a long span). A namespace's events of a
# span are found by time within the namespace: its events' edges and what its counts leave out
# no longer read all its events.
INSIGHT_COUNTS_MIGRATION = f"""
    {INSIGHT_TABLES}
    INSERT INTO insight_activity (grain, namespace, start_ms, actor, count)
        SELECT b.grain, {_SCOPE}, {_START}, '{counts.EVERY}', count(*)
        FROM events AS e, {_buckets(counts.ALL_GRAINS, counts.NAMESPACE_GRAINS)}
        GROUP BY 1, 2, 3;
    INSERT INTO insight_activity (grain, namespace, start_ms, actor, count, hand_edits)
        SELECT b.grain, {_SCOPE}, {_START}, p.actor, count(*), sum(p.hand_edit != 0)
        FROM events AS e JOIN provenance AS p ON p.id = e.id, {_ACTOR_BUCKETS}
        GROUP BY 1, 2, 3, 4;
    INSERT INTO insight_users
        SELECT b.grain, {_START}, e.username, count(*) FROM events AS e, {_TOPS_BUCKETS}
        GROUP BY 1, 2, 3;
    INSERT INTO insight_kinds
        SELECT b.grain, {_START}, e.grp, e.resource, e.kind, count(*)
        FROM events AS e, {_TOPS_BUCKETS}
        GROUP BY 1, 2, 3, 4, 5;
    CREATE INDEX resources_by_count ON resources (count);
    CREATE INDEX events_by_namespace_time ON events (namespace, time_ms);
    CREATE TRIGGER provenance_counted AFTER INSERT ON provenance BEGIN
        {_actor_counted("events AS e", "e.id = NEW.id", "NEW.actor", "NEW.hand_edit", "")}
    END;
    CREATE TRIGGER provenance_recounted AFTER UPDATE OF actor, hand_edit ON provenance
    WHEN OLD.actor IS NOT NEW.actor OR OLD.hand_edit IS NOT NEW.hand_edit BEGIN
        {_actor_counted("events AS e", "e.id = OLD.id", "OLD.actor", "OLD.hand_edit", "-")}
        {_actor_counted("events AS e", "e.id = NEW.id", "NEW.actor", "NEW.hand_edit", "")}
    END;
    DROP TRIGGER events_unjudged;
    CREATE TRIGGER events_unjudged AFTER DELETE ON events BEGIN
        DELETE FROM judgements WHERE id = OLD.id;
        {
    _actor_counted(
        "(SELECT OLD.namespace AS namespace, OLD.time_ms AS time_ms) AS e, provenance AS p",
        "p.id = OLD.id",
        "p.actor",
        "p.hand_edit",
        "-",
    )
}
        DELETE FROM provenance WHERE id = OLD.id;
        DELETE FROM outbox WHERE event_id = OLD.id;
    END;
"""
MIGRATIONS += (INSIGHT_COUNTS_MIGRATION,)

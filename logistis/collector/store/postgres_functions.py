"""The PostgreSQL store's functions on the server, and the advisory locks and the channel its
schema and its statements share.

A commit group is one call of `logistis_record`: one statement, so one round trip and one
transaction. It takes a transaction-level advisory lock first, so groups from several collectors
get their ids and commit one after the other: ids become visible in the order they were given,
and a reader that has seen id N never later finds a smaller one appear (the stream's resume
after `Last-Event-ID`, the cursor of the pages). Retention takes the same lock, so the
aggregates are only ever changed by one transaction at a time. A pass of the deriver is saved
in one call too (`logistis_save_provenance`, then `logistis_save_derived`).
"""

from __future__ import annotations

# Advisory lock keys: the order of writes, schema migrations, the retention pass.
WRITE_LOCK = 0x4C4F4749_0001  # "LOGI" 1
MIGRATION_LOCK = 0x4C4F4749_0002
RETENTION_LOCK = 0x4C4F4749_0003
# Each commit group notifies this channel with its last id, in its own transaction: delivered
# at commit, in commit order, to every collector listening (their live streams then read).
COMMIT_CHANNEL = "logistis_commits"


# The parameters of `logistis_record`: the events' columns, one array each.
RECORD_PARAMETERS = """
        ids bigint[], uids uuid[], uid_texts text[], times bigint[], operations text[],
        dry_runs boolean[], usernames text[], identity_jsons text[], grps text[],
        versions text[], kinds text[], resources text[], subresources text[],
        namespaces text[], names text[], field_managers text[], changes text[], bodies bytea[]
"""
# The ids the group's events take, in its order, given before the INSERT so that they can be
# returned in that order (the INSERT's own would come back in no stated order).
_NUMBERED = """
        ids := ARRAY(SELECT coalesce(i, nextval('events_id_seq'))
                     FROM unnest(ids) WITH ORDINALITY AS t(i, position) ORDER BY position);"""


def _record_function(*, returning_ids: bool) -> str:
    """One commit group: identities, events in the order given (ids from the sequence, or the
    ones given when a history is copied), then the resources written beyond their
    per-resource limit trimmed to it; `returning_ids`: the ids its events took, in its order
    (one trimmed at once included)."""
    returns, numbered, returned = ("void", "", "")
    if returning_ids:
        returns, numbered, returned = ("bigint[]", _NUMBERED, "\n        RETURN ids;")
    return f"""
    CREATE OR REPLACE FUNCTION logistis_record({RECORD_PARAMETERS}) RETURNS {returns}
    LANGUAGE plpgsql AS $$
    DECLARE
        keep bigint;
    BEGIN
        PERFORM pg_advisory_xact_lock({WRITE_LOCK});{numbered}
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
        END IF;{returned}
    END $$;
"""


# As migration 8 left it (1 created it, 7 and 8 replaced it).
RECORD_FUNCTION = _record_function(returning_ids=False)
# As migration 12 left it: the commit group's statement returns the ids it gave.
RECORD_RETURNING_IDS_FUNCTION = _record_function(returning_ids=True)


# How a pass of the deriver saves what it derived: it can be derived again, so it is not flushed
# before the function returns; behind the write lock, no event is removed meanwhile.
_SAVING_DERIVED = f"""
        PERFORM set_config('synchronous_commit', 'off', true);
        PERFORM pg_advisory_xact_lock({WRITE_LOCK});
"""

# Saves a pass's change summaries and judgements and moves the mark (postgres_schema, step 7).
SAVE_DERIVED_FUNCTION = f"""
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
"""

# Saves a pass's provenance rows and the decisions it made (postgres_schema, step 9).
SAVE_PROVENANCE_FUNCTION = f"""
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

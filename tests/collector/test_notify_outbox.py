"""The outbox in both stores: a store of the schema before it, upgraded; items queued with the
deriver's pass that matched them, never twice (derived again), claimed by one taker until
their lease runs out, and settled."""

from __future__ import annotations

from logistis.collector.history import reading
from logistis.collector.history.query import EventQuery
from logistis.collector.metrics import Metrics
from logistis.collector.pipeline.deriver import Deriver
from logistis.collector.pipeline.notify.config import parse_notify
from logistis.collector.pipeline.progress import Progress
from logistis.collector.pipeline.writer import CommitSignal
from logistis.collector.store import (
    Settled,
    StoreURL,
    open_store,
    postgres_schema,
    sqlite_schema,
)
from logistis.collector.store.protocol import SENT
from logistis.collector.store.url import SQLITE
from tests.collector.test_provenance_upgrade import story_events
from tests.support.stores import stored_at_schema, table_rows

# Argo CD's story: after alice's hand edit (recorded before the upgrade), Argo CD's writes.
NOTIFY = parse_notify(
    {
        "sinks": [{"name": "ops", "type": "webhook", "url": "http://127.0.0.1:9/"}],
        "rules": [{"name": "argocd", "actors": ["gitops"], "sinks": ["ops"]}],
    }
)


def schema_version(url: StoreURL) -> int:
    if url.backend == SQLITE:
        return int(table_rows(url, "PRAGMA user_version")[0][0])
    return int(table_rows(url, "SELECT max(version) FROM logistis_schema")[0][0])


async def test_an_upgraded_store_queues_what_the_pass_matched_once_and_claims_it_once(
    store_url: StoreURL,
):
    # Recorded and derived by a collector of the schema before the outbox.
    await stored_at_schema(store_url, story_events()[:5], sqlite=8, postgres=9)
    later = story_events()[5:]
    async with open_store(store_url) as store:
        expected = (
            len(sqlite_schema.MIGRATIONS)
            if store_url.backend == SQLITE
            else len(postgres_schema.MIGRATIONS)
        )
        assert schema_version(store_url) == expected
        await store.record(later)
        deriver = Deriver(store, CommitSignal(), Progress(Metrics()), NOTIFY)
        while not await deriver.derive_once():
            pass
        queued = table_rows(store_url, "SELECT event_id, rule FROM outbox ORDER BY event_id")
        written = [
            e.id
            for e in await reading.after(store, 5, EventQuery(), 100)
            if e.actor["kind"] == "gitops"
        ]
        assert [int(i) for i, _ in queued] == written
        assert written, "the story has Argo CD's writes after the upgrade"
        # Derived again from the mark before: nothing queued twice.
        await store.save_derived([], {}, 5, None, [(written[0], "ops", "argocd", 0)])
        assert len(table_rows(store_url, "SELECT * FROM outbox")) == len(written)

        claimed = await store.claim_outbox(10**13, 10**13 + 1000, 100)
        assert sorted(item.event_id for item in claimed) == written
        assert await store.claim_outbox(10**13, 10**13 + 1000, 100) == []
        first = claimed[0]
        await store.settle_outbox([Settled(first.event_id, "ops", SENT, 1, 10**13)])
        # The lease ran out: the others are claimed again, the one sent never.
        again = await store.claim_outbox(10**13 + 1001, 10**13 + 2000, 100)
        assert sorted(item.event_id for item in again) == written[1:]
        backlog = await store.outbox_backlog()
        assert [(b.sink, b.waiting, b.retrying) for b in backlog] == [("ops", len(written) - 1, 0)]

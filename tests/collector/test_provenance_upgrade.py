"""A store of the schema before provenance was kept (SQLite 7, PostgreSQL 8), upgraded: its
events read with their actor, what managed them and their hand edits derived when read; the
events after the upgrade derived by the deriver and kept, their revisions included."""

from __future__ import annotations

from datetime import UTC, datetime

from logistis.collector.admission.kinds import KindResolver
from logistis.collector.admission.review import event_from_request
from logistis.collector.history.events import Event
from logistis.collector.store import (
    StoreURL,
    open_store,
    postgres_schema,
    sqlite_schema,
)
from logistis.collector.store.url import SQLITE
from tests.collector.test_store import all_stored
from tests.collector.test_trust import derive_all
from tests.support.gitops import ARGOCD_REVISION, argocd_story
from tests.support.stores import stored_at_schema, table_rows


def story_events() -> list[Event]:
    kinds = KindResolver()
    moment = datetime.now(UTC)
    return [event_from_request(s.body["request"], moment, kinds) for s in argocd_story()]


async def stored_before_provenance(url: StoreURL, events: list[Event]) -> None:
    """The events recorded and derived by a collector of the schema before this one."""
    await stored_at_schema(url, events, sqlite=7, postgres=8)


async def test_a_store_of_the_schema_before_is_upgraded_and_reads_its_events_whole(
    store_url: StoreURL,
):
    events = story_events()
    # Up to alice's scale before the upgrade; Argo CD's self-heal after it.
    await stored_before_provenance(store_url, events[:5])
    async with open_store(store_url) as store:
        before = {e.uid: e for e in await all_stored(store)}
        scale = before[events[4].uid]
        assert (scale.actor, scale.hand_edit) == ({"kind": "person", "tool": "kubectl"}, True)
        assert scale.managed_by == {"tool": "argocd", "name": "shop", "namespace": None}
        assert before[events[1].uid].revision == {
            "tool": "argocd",
            "name": "shop",
            "revision": ARGOCD_REVISION,
        }
        await store.record(events[5:])
        await derive_all(store)
        after = {e.uid: e for e in await all_stored(store)}
    heal = after[events[6].uid]
    assert (heal.actor, heal.revision["revision"]) == (
        {"kind": "gitops", "tool": "argocd"},
        ARGOCD_REVISION,
    )
    kept = table_rows(store_url, "SELECT count(*) FROM provenance")
    assert kept == [(str(len(events) - 5),)]
    if store_url.backend == SQLITE:
        assert table_rows(store_url, "PRAGMA user_version") == [
            (str(len(sqlite_schema.MIGRATIONS)),)
        ]
    else:
        versions = table_rows(store_url, "SELECT max(version) FROM logistis_schema")
        assert versions == [(str(len(postgres_schema.MIGRATIONS)),)]

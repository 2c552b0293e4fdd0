"""Where the history is kept: a protocol per user of the store, `Store` their union, two
backends.

`open_store` opens the one `--store` names: the embedded SQLite file (`collector.store.sqlite`)
or a PostgreSQL database (`collector.store.postgres`). Nothing in this package imports the
HTTP side of the collector; the HTTP side knows only the protocols.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from logistis.collector.history.gitops import GitOpsSettings
from logistis.collector.store.protocol import (
    KEEP_PER_RESOURCE,
    Backlog,
    CopyStore,
    DeriverStore,
    HeartbeatStore,
    KubeStore,
    NotifyStore,
    NotStored,
    OutboxItem,
    OutboxRow,
    PassReads,
    QueryStore,
    RetentionStore,
    Settled,
    Store,
    StoredRow,
    StoreError,
    Underived,
    WriterStore,
)
from logistis.collector.store.rows import EncodedEvent, encode_event, unpack_uid
from logistis.collector.store.url import POSTGRESQL, StoreURL, StoreURLError

__all__ = [
    "Backlog",
    "CopyStore",
    "DeriverStore",
    "EncodedEvent",
    "HeartbeatStore",
    "KubeStore",
    "NotStored",
    "NotifyStore",
    "OutboxItem",
    "OutboxRow",
    "PassReads",
    "QueryStore",
    "RetentionStore",
    "Settled",
    "Store",
    "StoreError",
    "StoreURL",
    "StoreURLError",
    "StoredRow",
    "Underived",
    "WriterStore",
    "encode_event",
    "open_store",
    "unpack_uid",
]


@asynccontextmanager
async def open_store(
    url: StoreURL,
    *,
    max_events_per_resource: int = KEEP_PER_RESOURCE,
    gitops: GitOpsSettings | None = None,
    derives: bool = True,
) -> AsyncIterator[Store]:
    """Open (creating or migrating its schema) the store `url` names, and close it after;
    `gitops` tells how events' actors and managing tools are told. Without `derives` (a
    webhook worker, whose commits another process derives) the store keeps no committed
    objects in hand for a deriver."""
    if url.backend == POSTGRESQL:
        from logistis.collector.store.postgres import PostgresStore

        async with PostgresStore.open(
            url, max_events_per_resource=max_events_per_resource, gitops=gitops
        ) as pg:
            if not derives:
                pg.hand_off_nothing()
            yield pg
    else:
        from logistis.collector.store.sqlite import SQLiteStore

        async with SQLiteStore.open(
            url.path, max_events_per_resource=max_events_per_resource, gitops=gitops
        ) as lite:
            if not derives:
                lite.hand_off_nothing()
            yield lite

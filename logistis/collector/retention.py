"""Age and size limits, enforced in the background in small chunks.

The per-resource limit needs no task: a trigger in the schema applies it on every insert.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from datetime import UTC, datetime

from logistis.collector import sql
from logistis.collector.events import time_to_ms
from logistis.collector.metrics import Metrics
from logistis.collector.settings import Retention
from logistis.collector.store import Store

log = logging.getLogger(__name__)

# Small chunks keep each retention transaction short, so admission commits never wait long.
CHUNK = 500


async def enforce_once(store: Store, retention: Retention, now: datetime | None = None) -> int:
    removed = 0
    if retention.max_age is not None:
        cutoff = time_to_ms((now or datetime.now(UTC)) - retention.max_age)
        removed += await _repeat(store, sql.DELETE_OLDER_THAN, (cutoff, CHUNK))
    if retention.max_bytes is not None:
        while await store.used_bytes() > retention.max_bytes:
            deleted = await store.delete(sql.DELETE_OLDEST, (CHUNK,))
            removed += deleted
            if deleted == 0:
                break
    # Per-resource retention removes events on every insert; identities follow their events.
    await store.delete(sql.DELETE_UNUSED_IDENTITIES, ())
    return removed


async def _repeat(store: Store, statement: str, params: tuple[int, int]) -> int:
    total = 0
    while (deleted := await store.delete(statement, params)) > 0:
        total += deleted
    return total


async def enforce_forever(store: Store, retention: Retention, metrics: Metrics) -> None:
    while True:
        try:
            removed = await enforce_once(store, retention)
            metrics.store_bytes.set(await store.used_bytes())
        except sqlite3.Error as error:
            log.warning("retention pass failed, retrying later", extra={"error": str(error)})
        else:
            if removed:
                metrics.events_expired.inc(removed)
                log.info("retention removed events", extra={"removed": removed})
        await asyncio.sleep(retention.interval_seconds)

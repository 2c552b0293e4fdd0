"""Age and size limits, enforced in the background; each store removes events its own way.

The per-resource limit needs no task: the stores apply it as events are recorded.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from logistis.collector.metrics import Metrics
from logistis.collector.store import RetentionStore, StoreError
from logistis.collector.store.protocol import Retention

log = logging.getLogger(__name__)


async def enforce_once(
    store: RetentionStore, retention: Retention, now: datetime | None = None
) -> int:
    return await store.expire(retention, now or datetime.now(UTC))


async def enforce_forever(store: RetentionStore, retention: Retention, metrics: Metrics) -> None:
    while True:
        try:
            removed = await enforce_once(store, retention)
            metrics.store_bytes.set(await store.used_bytes())
        except StoreError as error:
            log.warning("retention pass failed, retrying later", extra={"error": str(error)})
        else:
            if removed:
                metrics.events_expired.inc(removed)
                log.info("retention removed events", extra={"removed": removed})
        await asyncio.sleep(retention.interval_seconds)

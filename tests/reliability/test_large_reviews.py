"""Large valid reviews (issue 23, item 1): updates of 1.6-2 MB that change 60,000 ConfigMap keys
or 150,000 list items, sent one after another while small reviews flow beside them, on both
stores. Before, one such update held the commit groups for ~20 s on PostgreSQL (every other
answer given at the commit timeout and counted dropped), and SQLite's deriver spent as long on
each, deaf to SIGTERM. Now none of the small reviews is dropped, each large one is recorded
whole with a summary of one entry for its large member, memory stays bounded and SIGTERM is
answered at once."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import aiohttp

from logistis.collector.store import StoreURL
from tests.support.collector import CollectorProcess
from tests.support.large import coarse_entry, large_update
from tests.support.stores import store_env, stored_uids

from .load import Load, metric, percentile, rss_mib
from .scale import knob, report

# The manifests' memory limit is 512 MiB.
RSS_LIMIT_MIB = 400
# SIGTERM to exit: the shutdown's own grace period is 10 s.
EXIT_SECONDS = 15


@dataclass(frozen=True)
class Sent:
    """A large review allowed, as far as the checks after go (the review itself is 2 MB)."""

    uid: str
    name: str
    entry: dict[str, Any]


async def sent_beside_small_reviews(
    collector: CollectorProcess, count: int
) -> tuple[Load, list[Sent]]:
    """`count` large reviews one after another on one connection while four connections post
    small ones; those that were allowed."""
    small = Load(collector, workers=4)
    running = asyncio.create_task(small.run())
    await small.answered()
    allowed = []
    connector = aiohttp.TCPConnector(ssl=collector.ssl_context(), limit=1)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        for number in range(count):
            review = large_update(number)
            async with session.post(collector.webhook_url, json=review) as response:
                answer = await response.json()
            if answer["response"]["allowed"] is True:
                request = review["request"]
                allowed.append(Sent(request["uid"], request["name"], coarse_entry(review)))
    small.stop()
    await running
    return small, allowed


def test_large_updates_cost_the_other_reviews_nothing(tmp_path, store_url: StoreURL):
    count = knob("large_reviews", 6)
    collector = CollectorProcess(tmp_path / "data", env=store_env(store_url)).start()
    try:
        small, large = asyncio.run(sent_beside_small_reviews(collector, count))
        assert len(large) == count
        assert small.errors == small.denied == 0
        assert metric(collector, "logistis_events_dropped_total") == 0
        with collector.client() as client:
            for sent in large:
                params = {"name": sent.name}
                (event,) = client.get("/api/v1/events", params=params).json()["items"]
                assert sent.entry in event["changes"]
        rss = rss_mib(collector)
        assert rss < RSS_LIMIT_MIB
    finally:
        # Whatever the deriver still has to do.
        assert collector.stop(timeout=EXIT_SECONDS) == 0
    assert {sent.uid for sent in large} | small.acknowledged <= stored_uids(store_url)
    report(f"large reviews sent ({store_url.backend})", count)
    report(f"collector RSS after large reviews ({store_url.backend}, MiB)", round(rss))
    p99 = percentile(small.latencies, 0.99) * 1000
    report(f"admission p99 beside large reviews ({store_url.backend}, ms)", round(p99))

"""Large valid reviews (issue 23, item 1): updates of 1.6-2 MB that change 60,000 ConfigMap keys
or 150,000 list items, sent one after another while small reviews flow beside them, on both
stores. Before, one such update held the commit groups for ~20 s on PostgreSQL (every other
answer given at the commit timeout and counted dropped), and SQLite's deriver spent as long on
each, deaf to SIGTERM. Now none of the small reviews is dropped, each large one is recorded
whole with a summary of one entry for its large member, memory stays bounded and SIGTERM is
answered at once."""

from __future__ import annotations

import asyncio

import aiohttp

from logistis.collector.store import StoreURL
from tests.support.collector import CollectorProcess
from tests.support.large import Review, coarse_entry, large_update
from tests.support.stores import store_env, stored_uids

from .load import Load, metric, percentile, rss_mib
from .scale import knob, report

# The manifests' memory limit is 512 MiB.
RSS_LIMIT_MIB = 400
# SIGTERM to exit: the shutdown's own grace period is 10 s.
EXIT_SECONDS = 15


async def sent_beside_small_reviews(
    collector: CollectorProcess, large: list[Review]
) -> tuple[Load, list[bool]]:
    """The large reviews one after another on one connection while four connections post
    small ones; whether each large one was allowed."""
    small = Load(collector, workers=4)
    running = asyncio.create_task(small.run())
    await small.answered()
    allowed = []
    connector = aiohttp.TCPConnector(ssl=collector.ssl_context(), limit=1)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        for review in large:
            async with session.post(collector.webhook_url, json=review) as response:
                answer = await response.json()
            allowed.append(answer["response"]["allowed"] is True)
    small.stop()
    await running
    return small, allowed


def test_large_updates_cost_the_other_reviews_nothing(tmp_path, store_url: StoreURL):
    large = [large_update(number) for number in range(knob("large_reviews", 6))]
    collector = CollectorProcess(tmp_path / "data", env=store_env(store_url)).start()
    try:
        small, allowed = asyncio.run(sent_beside_small_reviews(collector, large))
        assert all(allowed)
        assert small.errors == small.denied == 0
        assert metric(collector, "logistis_events_dropped_total") == 0
        with collector.client() as client:
            for review in large:
                name = review["request"]["name"]
                (event,) = client.get("/api/v1/events", params={"name": name}).json()["items"]
                assert coarse_entry(review) in event["changes"]
        rss = rss_mib(collector)
        assert rss < RSS_LIMIT_MIB
    finally:
        # Whatever the deriver still has to do.
        assert collector.stop(timeout=EXIT_SECONDS) == 0
    uids = {review["request"]["uid"] for review in large} | small.acknowledged
    assert uids <= stored_uids(store_url)
    report(f"large reviews sent ({store_url.backend})", len(large))
    report(f"collector RSS after large reviews ({store_url.backend}, MiB)", round(rss))
    p99 = percentile(small.latencies, 0.99) * 1000
    report(f"admission p99 beside large reviews ({store_url.backend}, ms)", round(p99))

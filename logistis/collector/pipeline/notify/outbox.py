"""Delivery off the answer path: one dispatcher per collector claims due items of the outbox,
sends them and keeps what became of each.

Items are claimed with a lease (`notify.delivery.lease`): on PostgreSQL the claim skips rows
another collector is claiming (FOR UPDATE SKIP LOCKED), so each item goes out from one
collector; a collector killed while sending leaves its items to be claimed again once the lease
runs out, and a receiver that took one of them but whose answer was lost gets it again, with the
same `Idempotency-Key`. A failed attempt is tried again after an exponential back-off with
jitter, or after the receiver's `Retry-After`; an item older than `maxAge` is dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import aiohttp

from logistis.collector.history import reading
from logistis.collector.history.events import Event
from logistis.collector.metrics import Metrics
from logistis.collector.pipeline.notify import cloudevents, slack, webhook
from logistis.collector.pipeline.notify.config import Delivery, Digest, NotifySettings, Sink
from logistis.collector.pipeline.notify.delivery import Outcome, post
from logistis.collector.pipeline.notify.message import Message
from logistis.collector.pipeline.notify.metrics import NotifyMetrics
from logistis.collector.pipeline.notify.request import Request
from logistis.collector.pipeline.writer import CommitSignal
from logistis.collector.store import NotifyStore, OutboxItem, Settled, StoreError
from logistis.collector.store.protocol import DROPPED, FAILED, SENT, WAITING

log = logging.getLogger(__name__)

# Items claimed at once: a few seconds of sending at most, well inside a lease.
BATCH = 64

RENDERERS: Mapping[str, Callable[[Message, Sink], Request]] = {
    "webhook": webhook.render,
    "slack": slack.render,
    "cloudevents": cloudevents.render,
}


def render(message: Message, sink: Sink) -> Request:
    return RENDERERS[sink.type](message, sink)


@dataclass(slots=True)
class _Window:
    """A digest's window of one rule at one sink: when it began, and messages sent in it."""

    start_ms: int
    sent: int = 0


@dataclass(frozen=True, slots=True)
class _Plan:
    """How a claimed rule's items at a digest sink go out."""

    alone: list[OutboxItem]
    digest: list[OutboxItem]
    later: list[OutboxItem]
    later_ms: int


def plan(window: _Window, digest: Digest, items: list[OutboxItem], now_ms: int) -> _Plan:
    """At most `digest.events` messages per window: a fresh window's burst of more is one
    digest at once; past the allowance, items wait for the window's end."""
    window_ms = int(digest.window * 1000)
    if now_ms >= window.start_ms + window_ms:
        window.start_ms, window.sent = now_ms, 0
    allowance = digest.events - window.sent
    if len(items) <= allowance:
        window.sent += len(items)
        return _Plan(items, [], [], 0)
    if window.sent == 0:
        window.sent = digest.events
        return _Plan([], items, [], 0)
    window.sent = digest.events
    return _Plan(items[:allowance], [], items[allowance:], window.start_ms + window_ms)


class Dispatcher:
    def __init__(
        self,
        store: NotifyStore,
        settings: NotifySettings,
        metrics: NotifyMetrics,
        wake: CommitSignal,
    ) -> None:
        self._store = store
        self._settings = settings
        self._delivery: Delivery = settings.delivery
        self._metrics = metrics
        self._wake = wake
        self._windows: dict[tuple[str, str], _Window] = {}
        self._observed = 0.0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="notify")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        async with aiohttp.ClientSession() as session:
            while True:
                woken = self._wake.next_commit()
                try:
                    busy = await self.deliver_once(session)
                    if time.monotonic() >= self._observed + self._delivery.poll:
                        await self._observe()
                except StoreError as error:
                    log.warning(
                        "notifications not delivered, trying again", extra={"error": str(error)}
                    )
                    busy = False
                if not busy:
                    await CommitSignal.wait(woken, self._delivery.poll)

    async def deliver_once(self, session: aiohttp.ClientSession) -> bool:
        """Claim, send and settle one batch; False when nothing was due."""
        now_ms = _now_ms()
        lease_ms = int(self._delivery.lease * 1000)
        items = await self._store.claim_outbox(now_ms, now_ms + lease_ms, BATCH)
        if not items:
            return False
        settled = await self._deliver(session, items, now_ms)
        await self._store.settle_outbox(settled)
        return True

    async def _deliver(
        self, session: aiohttp.ClientSession, items: list[OutboxItem], now_ms: int
    ) -> list[Settled]:
        max_age_ms = int(self._delivery.max_age * 1000)
        events = await self._events({item.event_id for item in items})
        settled: list[Settled] = []
        live: list[OutboxItem] = []
        for item in items:
            gone = item.event_id not in events or item.sink not in self._settings.sinks
            if gone or now_ms - item.queued_ms > max_age_ms:
                self._metrics.dropped.labels(item.sink).inc()
                settled.append(Settled(item.event_id, item.sink, DROPPED, item.attempts, now_ms))
            else:
                live.append(item)
        batches, later = self._messages(live, events, now_ms)
        settled.extend(later)
        outcomes = await asyncio.gather(*(self._send(session, m) for m, _ in batches))
        for (message, batch), outcome in zip(batches, outcomes, strict=True):
            settled.extend(self._settled(message, batch, outcome))
        return settled

    async def _events(self, ids: set[int]) -> dict[int, Event]:
        return {event.id: event for event in await reading.several(self._store, sorted(ids))}

    def _messages(
        self, items: list[OutboxItem], events: Mapping[int, Event], now_ms: int
    ) -> tuple[list[tuple[Message, list[OutboxItem]]], list[Settled]]:
        """The messages to send (each with its items), and the items a digest holds back."""
        groups: dict[tuple[str, str], list[OutboxItem]] = {}
        for item in sorted(items, key=lambda i: i.event_id):
            groups.setdefault((item.sink, item.rule), []).append(item)
        messages: list[tuple[Message, list[OutboxItem]]] = []
        later: list[Settled] = []
        url = self._settings.event_url
        for (sink, rule), group in groups.items():
            digest = self._settings.sinks[sink].digest
            if digest is None:
                messages.extend(
                    (Message(sink, rule, [events[i.event_id]], url), [i]) for i in group
                )
                continue
            window = self._windows.setdefault((sink, rule), _Window(now_ms))
            chosen = plan(window, digest, group, now_ms)
            messages.extend(
                (Message(sink, rule, [events[i.event_id]], url), [i]) for i in chosen.alone
            )
            if chosen.digest:
                shown = [events[i.event_id] for i in chosen.digest]
                messages.append((Message(sink, rule, shown, url), chosen.digest))
            later.extend(
                Settled(i.event_id, i.sink, WAITING, i.attempts, chosen.later_ms)
                for i in chosen.later
            )
        return messages, later

    async def _send(self, session: aiohttp.ClientSession, message: Message) -> Outcome:
        sink = self._settings.sinks[message.sink]
        try:
            request = render(message, sink)
        except Exception as error:  # noqa: BLE001 - a message that cannot be rendered is its own
            return Outcome(sent=False, final=True, detail=f"not rendered: {error!r}")
        return await post(session, sink.url, request, self._delivery.timeout)

    def _settled(
        self, message: Message, items: Sequence[OutboxItem], outcome: Outcome
    ) -> list[Settled]:
        now_ms = _now_ms()
        sink = message.sink
        if outcome.sent:
            self._metrics.sent.labels(sink).inc(len(items))
            for event in message.events:
                self._metrics.lag.labels(sink).observe(
                    max(0.0, time.time() - event.time.timestamp())
                )
            return [Settled(i.event_id, sink, SENT, i.attempts + 1, now_ms) for i in items]
        if outcome.final:
            self._metrics.failed.labels(sink).inc(len(items))
            log.warning("notification refused", extra={"sink": sink, "error": outcome.detail})
            return [Settled(i.event_id, sink, FAILED, i.attempts + 1, now_ms) for i in items]
        log.info(
            "notification not taken, trying again",
            extra={"sink": sink, "events": [i.event_id for i in items], "error": outcome.detail},
        )
        return [
            Settled(
                i.event_id, sink, WAITING, i.attempts + 1, now_ms + self._delay(i.attempts, outcome)
            )
            for i in items
        ]

    def _delay(self, attempts: int, outcome: Outcome) -> int:
        """Milliseconds until the next attempt: the receiver's Retry-After, else an exponential
        back-off with full jitter over its upper half (never all at once after an outage)."""
        if outcome.retry_after is not None:
            return int(outcome.retry_after * 1000)
        delivery = self._delivery
        ceiling = min(delivery.retry_max, delivery.retry_first * 2 ** min(attempts, 32))
        return int(ceiling * random.uniform(0.5, 1.0) * 1000)

    async def _observe(self) -> None:
        """The backlog gauges, read once per `poll` at most (not after every batch)."""
        self._observed = time.monotonic()
        now_ms = _now_ms()
        backlog = {b.sink: b for b in await self._store.outbox_backlog()}
        for sink in self._settings.sinks:
            found = backlog.get(sink)
            self._metrics.waiting.labels(sink).set(found.waiting if found else 0)
            self._metrics.retrying.labels(sink).set(found.retrying if found else 0)
            self._metrics.oldest.labels(sink).set(
                max(0.0, (now_ms - found.oldest_ms) / 1000) if found else 0
            )


def start_dispatcher(
    store: NotifyStore, settings: NotifySettings, metrics: Metrics, wake: CommitSignal
) -> Dispatcher | None:
    """The collector's dispatcher, started, when any rule sends anywhere. It is woken by the
    deriver's passes (`wake`) and reads the outbox every `poll` seconds besides."""
    if not settings.enabled:
        return None
    dispatcher = Dispatcher(store, settings, NotifyMetrics(metrics.registry, settings.sinks), wake)
    dispatcher.start()
    return dispatcher


def _now_ms() -> int:
    return int(time.time() * 1000)

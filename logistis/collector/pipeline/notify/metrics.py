"""The notification metrics, per sink, in the collector's registry."""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class NotifyMetrics:
    def __init__(self, registry: CollectorRegistry, sinks: Iterable[str]) -> None:
        self.sent = Counter(
            "logistis_notify_sent",
            "Notification items a sink took (a digest counts each event in it)",
            ["sink"],
            registry=registry,
        )
        self.failed = Counter(
            "logistis_notify_failed",
            "Notification items a sink refused for good (a 4xx other than 408 and 429)",
            ["sink"],
            registry=registry,
        )
        self.dropped = Counter(
            "logistis_notify_dropped",
            "Notification items given up on: older than notify.delivery.maxAge, or their event "
            "or sink gone",
            ["sink"],
            registry=registry,
        )
        self.waiting = Gauge(
            "logistis_notify_waiting",
            "Notification items not delivered yet",
            ["sink"],
            registry=registry,
        )
        self.retrying = Gauge(
            "logistis_notify_retrying",
            "Notification items not delivered yet that were tried already",
            ["sink"],
            registry=registry,
        )
        self.oldest = Gauge(
            "logistis_notify_oldest_undelivered_seconds",
            "Age of the oldest event whose notification is not delivered yet (0: none)",
            ["sink"],
            registry=registry,
        )
        self.lag = Histogram(
            "logistis_notify_lag_seconds",
            "Time from an event's admission to its notification taken by the sink",
            ["sink"],
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
            registry=registry,
        )
        for sink in sinks:
            for metric in (self.sent, self.failed, self.dropped):
                metric.labels(sink)
            for gauge in (self.waiting, self.retrying, self.oldest):
                gauge.labels(sink).set(0)

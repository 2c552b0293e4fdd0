"""Prometheus metrics of one collector, in its own registry (no process-global state)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

CONTENT_TYPE = CONTENT_TYPE_LATEST


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.admission_requests = Counter(
            "logistis_admission_requests",
            "AdmissionReview requests answered, by outcome",
            ["outcome"],
            registry=self.registry,
        )
        self.admission_latency = Histogram(
            "logistis_admission_latency_seconds",
            "Time from reading a review to answering it",
            buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
            registry=self.registry,
        )
        self.events_recorded = Counter(
            "logistis_events_recorded", "Events committed to the store", registry=self.registry
        )
        self.events_dropped = Counter(
            "logistis_events_dropped",
            "Events answered without being committed, by reason",
            ["reason"],
            registry=self.registry,
        )
        self.events_late = Counter(
            "logistis_events_late",
            "Events answered at the commit timeout, before their commit, and committed after",
            registry=self.registry,
        )
        self.events_skipped = Counter(
            "logistis_events_skipped",
            "Requests left out by the capture rules",
            registry=self.registry,
        )
        self.commit_batch_size = Histogram(
            "logistis_commit_batch_size",
            "Events per committed transaction",
            buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512),
            registry=self.registry,
        )
        self.derive_lag = Histogram(
            "logistis_derive_lag_seconds",
            "Time from an event's admission to its derived fields (the change summary) saved",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=self.registry,
        )
        self.events_underived = Gauge(
            "logistis_events_underived",
            "Committed events the deriver has not reached yet (at most, by ids)",
            registry=self.registry,
        )
        self.derive_behind = Gauge(
            "logistis_derive_behind_seconds",
            "How long the oldest committed event not derived yet has waited, at most "
            "(0 while the deriver keeps up); /readyz fails past 60",
            registry=self.registry,
        )
        self.hand_edits = Counter(
            "logistis_hand_edits",
            "Hand edits to objects a GitOps tool or Helm manages, found by the deriver, by the "
            "kind of actor who made them",
            ["actor"],
            registry=self.registry,
        )
        self.store_bytes = Gauge(
            "logistis_store_bytes", "Bytes used in the database file", registry=self.registry
        )
        self.events_expired = Counter(
            "logistis_events_expired", "Events removed by retention", registry=self.registry
        )
        self.stream_clients = Gauge(
            "logistis_stream_clients", "Open /api/v1/stream connections", registry=self.registry
        )

        self.stream_disconnects = Counter(
            "logistis_stream_disconnects",
            "Stream connections closed by the collector, by reason",
            ["reason"],
            registry=self.registry,
        )
        self.seconds_since_gap = Gauge(
            "logistis_seconds_since_last_blind_spot",
            "Seconds since the end of the last period no collector was recording "
            "(or since the first start); 0 while none is",
            registry=self.registry,
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)

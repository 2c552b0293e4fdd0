"""Prometheus metrics of one collector, in its own registry (no process-global state).

A collector with webhook workers (`--workers`) counts in each process; the workers send their
counts to the process that writes (`pipeline/relay.py`), which adds them to its own when it
renders: one scrape shows the whole collector.
"""

from __future__ import annotations

from collections import Counter as Tally
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.metrics_core import Metric
from prometheus_client.samples import Sample

CONTENT_TYPE = CONTENT_TYPE_LATEST

# Counts add up across processes; a gauge is a process's own state, and `_created` a time.
_SUMMED = ("counter", "histogram")
_CREATED = "_created"

SampleKey = tuple[str, tuple[tuple[str, str], ...]]
Snapshot = list[tuple[str, list[tuple[str, str]], float]]
"""A process's counts: (sample name, labels, value), as sent between processes."""


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

        self._others: dict[str, Tally[SampleKey]] = {}
        self._gone: Tally[SampleKey] = Tally()

    def render(self) -> bytes:
        if not self._others and not self._gone:
            return generate_latest(self.registry)
        return generate_latest(_Merged(self.registry, self._counted_elsewhere()))

    def snapshot(self) -> Snapshot:
        """This process's counts, for the process that renders them."""
        return [
            (sample.name, sorted(sample.labels.items()), sample.value)
            for family in self.registry.collect()
            if family.type in _SUMMED
            for sample in family.samples
            if not sample.name.endswith(_CREATED)
        ]

    def add_process(self, name: str, snapshot: Snapshot) -> None:
        """Another process's counts so far (each snapshot replaces its last)."""
        self._others[name] = Tally(
            {
                (sample, tuple((k, v) for k, v in labels)): value
                for sample, labels, value in snapshot
            }
        )

    def end_process(self, name: str) -> None:
        """A process that ended keeps its counts in the totals: a counter never goes back."""
        self._gone.update(self._others.pop(name, Tally()))

    def _counted_elsewhere(self) -> Tally[SampleKey]:
        total = Tally(self._gone)
        for counts in self._others.values():
            total.update(counts)
        return total


class _Merged:
    """A registry's metrics with other processes' counts added to the same samples."""

    def __init__(self, registry: CollectorRegistry, others: Tally[SampleKey]) -> None:
        self._registry = registry
        self._others = others

    def collect(self) -> Iterator[Metric]:
        for family in self._registry.collect():
            if family.type in _SUMMED:
                family.samples = list(self._added(family))
            yield family

    def _added(self, family: Metric) -> Iterator[Sample]:
        seen = set()
        for sample in family.samples:
            key = (sample.name, tuple(sorted(sample.labels.items())))
            seen.add(key)
            yield sample._replace(value=sample.value + self._others.get(key, 0.0))
        for (name, labels), value in self._others.items():
            if (name, labels) not in seen and _belongs(name, family.name):
                yield Sample(name, dict(labels), value)


def _belongs(sample: str, family: str) -> bool:
    suffix = sample.removeprefix(family)
    return suffix != sample and suffix in ("", "_total", "_bucket", "_count", "_sum")

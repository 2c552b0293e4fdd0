"""Where deriving stands, as the deriver's passes report it.

Each pass of the deriver (`deriver.py`) ends with a `PassReport`: how long its events waited,
how many committed events are still waiting, the hand edits it found. The collector's
`Progress` hears them, whether the deriver runs in its process or in one of its own
(`deriver_process.py`, which sends each report over a pipe), and keeps what the rest of the
collector asks of deriving: the metrics, how far behind it is (/readyz), and `ready`, which
fires after each pass (the live streams and the notifications follow it).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from logistis.collector.pipeline.writer import CommitSignal

if TYPE_CHECKING:
    # Only the collector's own process keeps metrics: the deriver's, which imports this module
    # for its reports, is spared prometheus_client (~50 ms of every start).
    from logistis.collector.metrics import Metrics


@dataclass(frozen=True, slots=True)
class PassReport:
    """One pass, saved."""

    lags: list[float]
    """Each event derived: seconds from its admission to its pass."""
    underived: int
    """Committed events still waiting when the pass ended."""
    behind_since_ms: float | None
    """Short of the newest commit: the time of the newest event it derived (the oldest one
    waiting is newer); None when it caught up."""
    hand_edits: dict[str, int] = field(default_factory=dict)
    """Hand edits found, by the kind of actor who made them."""

    def to_wire(self) -> list[Any]:
        return [self.lags, self.underived, self.behind_since_ms, self.hand_edits]

    @classmethod
    def from_wire(cls, fields: Sequence[Any]) -> PassReport:
        lags, underived, behind_since_ms, hand_edits = fields
        return cls(list(lags), underived, behind_since_ms, dict(hand_edits))


class Heard(Protocol):
    """Who hears a deriver's passes."""

    def heard(self, report: PassReport) -> None: ...


class Progress:
    """The collector's view of deriving, kept from the passes' reports."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics
        self._behind_since_ms: float | None = None
        metrics.derive_behind.set_function(self.behind_seconds)
        self.ready = CommitSignal()
        """Fires after each pass of the deriver: committed events can be read with their
        derived fields. The stream follows it, so its reads find them stored rather than
        compute them."""

    def heard(self, report: PassReport) -> None:
        metrics = self._metrics
        for lag in report.lags:
            metrics.derive_lag.observe(lag)
        metrics.events_underived.set(report.underived)
        for kind, count in report.hand_edits.items():
            metrics.hand_edits.labels(kind).inc(count)
        self._behind_since_ms = report.behind_since_ms
        self.ready.fire()

    def behind_seconds(self) -> float:
        """How long the oldest committed event not derived yet has waited, at most; 0 once the
        last pass caught up."""
        if self._behind_since_ms is None:
            return 0.0
        return max(0.0, time.time() - self._behind_since_ms / 1000)

"""The collector runs a history was recorded in, as their heartbeats tell."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Run:
    """One run of one collector, from its heartbeats, in milliseconds since the epoch
    (collector/pipeline/coverage.py)."""

    collector: str
    started_ms: int
    beat_ms: int
    stopped_ms: int | None

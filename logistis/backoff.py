"""Exponential delays between attempts to reach something that went away, shared by the
collector (its PostgreSQL listener) and the clients (the live stream)."""

from __future__ import annotations


class Backoff:
    """Each delay `factor` times the one before, from `first` up to `cap`; `reset` once the
    thing is reached again."""

    def __init__(self, first: float = 0.25, factor: float = 2.0, cap: float = 8.0):
        self._first, self._factor, self._cap = first, factor, cap
        self._delay = first

    def next(self) -> float:
        delay = self._delay
        self._delay = min(self._delay * self._factor, self._cap)
        return delay

    def reset(self) -> None:
        self._delay = self._first

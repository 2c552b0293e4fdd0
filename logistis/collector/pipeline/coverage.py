"""When no collector was recording: heartbeats written by each collector, and the blind spots
between them.

Each run of a collector is one row: when it started, its last beat, and when it stopped
cleanly (none after a crash or a kill). A run covers the time from its start to its clean stop,
or to its last beat if it never stopped cleanly; the union over all runs (replicas included)
is the time something was recording. Whatever lies between is a blind spot: with the webhook's
`failurePolicy: Ignore`, writes made then are missing from the history. A beat that comes
late (the process stalled) ends the run there and starts a new one, so a stall shows too.
After a run's last beat it may have lived until its next was late: another replica that
started by then took over, and no blind spot lies between them.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from logistis.collector.history.events import format_time, time_from_ms
from logistis.collector.history.runs import Run
from logistis.collector.pipeline.writer import CommitSignal
from logistis.collector.store.protocol import HeartbeatStore, StoreError

log = logging.getLogger(__name__)

Cause = Literal["stopped", "lost", "silent"]
# A beat this many intervals late means the collector was not recording in between.
LATE_BEATS = 2.0
# While commits land, a beat follows them at most this often.
RECORDING_BEAT_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class BlindSpot:
    start_ms: int
    end_ms: int | None  # None: nothing is recording now
    cause: Cause

    def to_json(self, now_ms: int) -> dict[str, Any]:
        end = self.end_ms if self.end_ms is not None else now_ms
        return {
            "start": format_time(time_from_ms(self.start_ms)),
            "end": format_time(time_from_ms(self.end_ms)) if self.end_ms is not None else None,
            "seconds": round((end - self.start_ms) / 1000, 3),
            "cause": self.cause,
        }


def blind_spots(runs: Sequence[Run], now_ms: int, interval_s: float) -> list[BlindSpot]:
    """The periods no run covers, from the first start on, oldest first.

    `stopped`: the collector before it stopped cleanly; `lost`: its beats ended without a
    clean stop (a crash, a kill, a lost node, a stall); `silent`: none is beating now.
    """
    spots: list[BlindSpot] = []
    ending: Run | None = None  # the run whose end is the furthest covered so far
    covered_until = 0
    cause: Cause = "stopped"
    for run in sorted(runs, key=lambda r: r.started_ms):
        if ending is not None and _uncovered(ending, cause, covered_until, run, interval_s):
            spots.append(BlindSpot(covered_until, run.started_ms, cause))
        end, end_cause = _end(run, now_ms, interval_s)
        if ending is None or end > covered_until:
            ending, covered_until, cause = run, end, end_cause
    if ending is not None and covered_until < now_ms:
        spots.append(BlindSpot(covered_until, None, "silent" if cause == "lost" else cause))
    return spots


def _uncovered(ending: Run, cause: Cause, until_ms: int, run: Run, interval_s: float) -> bool:
    """Whether nothing recorded from `until_ms` (where `ending` stopped, or beat last) to the
    run's start. A run is taken for beating until its beats are LATE_BEATS intervals late, and
    after its last one it may have lived as long: another replica that started by then took
    over. A restart on the same host (a container's, or a StatefulSet pod's) began after the
    run it replaces had ended."""
    if run.started_ms <= until_ms:
        return False
    if cause != "lost" or _host(run) == _host(ending):
        return True
    return run.started_ms - until_ms > LATE_BEATS * interval_s * 1000


def _host(run: Run) -> str:
    return run.collector.rpartition("/")[0]


def _end(run: Run, now_ms: int, interval_s: float) -> tuple[int, Cause]:
    if run.stopped_ms is not None:
        return run.stopped_ms, "stopped"
    if now_ms - run.beat_ms <= LATE_BEATS * interval_s * 1000:
        return now_ms, "lost"  # beating: covered up to now
    return run.beat_ms, "lost"


def clipped(
    spots: Sequence[BlindSpot], since_ms: int | None, until_ms: int | None
) -> list[BlindSpot]:
    """The blind spots that overlap [since, until)."""
    return [
        s
        for s in spots
        if (since_ms is None or s.end_ms is None or s.end_ms > since_ms)
        and (until_ms is None or s.start_ms < until_ms)
    ]


def seconds_since_gap(runs: Sequence[Run], now: int, interval_s: float) -> float:
    """Since the last blind spot ended (or the first run started): 0 while blind now."""
    if not runs:
        return 0.0
    spots = blind_spots(runs, now, interval_s)
    if not spots:
        return (now - min(run.started_ms for run in runs)) / 1000
    end = spots[-1].end_ms
    return 0.0 if end is None else (now - end) / 1000


def now_ms() -> int:
    return int(time.time() * 1000)


def collector_id() -> str:
    """The pod's name and the process: unique among replicas and restarts. A container is
    given its pod's name as HOSTNAME; elsewhere the machine's name stands for it."""
    return f"{os.environ.get('HOSTNAME') or socket.gethostname()}/{os.getpid()}"


async def beat_forever(
    store: HeartbeatStore, collector: str, interval_s: float, commits: CommitSignal
) -> None:
    """Start a run, beat every interval (sooner while the history is written), and stop the
    run cleanly when cancelled."""
    started = last = now_ms()
    await store.start_run(collector, started)
    try:
        while True:
            await _next_beat(commits, interval_s)
            moment = now_ms()
            try:
                if moment - last > LATE_BEATS * interval_s * 1000:
                    # Stalled: the time since the last beat is not vouched for.
                    started = moment
                    await store.start_run(collector, started)
                else:
                    await store.beat(collector, started, moment)
            except StoreError as error:
                log.warning("heartbeat not written", extra={"error": str(error)})
            else:
                last = moment
    finally:
        await store.stop_run(collector, started, now_ms())


async def _next_beat(commits: CommitSignal, interval_s: float) -> None:
    """An interval from now, or once a commit has landed and RECORDING_BEAT_SECONDS have
    passed: a killed run's coverage ends at its last beat, so while writes come (when a blind
    spot costs events) the beats follow them closely."""
    commit = commits.next_commit()
    spacing = min(RECORDING_BEAT_SECONDS, interval_s)
    await asyncio.sleep(spacing)
    await CommitSignal.wait(commit, interval_s - spacing)

"""On SQLite, the deriver runs in a process of its own.

In the collector's process it shared one GIL with the event loop and the write thread: its
passes, Python through and through, took the GIL from the answers for a millisecond at a time,
and the hand-overs between the three threads cost as much CPU again. Apart, it derives on the
machine's other core: the answers' p99 at 500 reviews/s halved, the reviews a second under a
closed loop rose by 60-70%, and the CPU per review of both processes together fell by a fifth
(BENCHMARKS.md, "The deriver in a process of its own").

This module is the collector's end. It starts `python -m logistis.collector.deriver_main`, the
process's own side, its `Settings` pickled in a frame on standard input. The process opens the
same database with connections of its own (its reads in the deriver's thread, its saves on a
write connection; the two writers take turns on `WriteLock`), derives as the deriver always did,
and reports each pass in a frame on standard output (`PassReport`): the collector's `Progress`
keeps the metrics, /readyz and the live streams' wake-up from them. A commit group the
collector makes is one byte on the pipe to it, when the process has not been told of another
since its last pass (`Telling`). It stops when that pipe closes: at the collector's shutdown,
or when the collector is gone whichever way. One that dies is started again.

PostgreSQL keeps its deriver in the collector's process: its passes read on the event loop's
connections, and what costs there is the server's work per commit group, not the GIL.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import pickle

from logistis.collector.errors import CollectorError
from logistis.collector.pipeline import frames
from logistis.collector.pipeline.progress import PassReport, Progress
from logistis.collector.pipeline.writer import CommitSignal
from logistis.collector.settings import Settings
from logistis.collector.spawn import start_module

log = logging.getLogger(__name__)

# Longest wait for the process to open the store and say it is up.
START_SECONDS = 30.0
# Longest wait for it to end its pass and close the store once told to stop.
STOP_SECONDS = 10.0
# A deriver process that stopped unasked is started again after this pause.
RESTART_SECONDS = 1.0
# The one byte that says "a commit group landed".
COMMITTED = b"c"


class DeriverProcessError(CollectorError):
    """The deriver's process could not start."""


class DeriverProcess:
    """The collector's end: starts the process, tells it of commits, hears its passes."""

    def __init__(self, settings: Settings, committed: CommitSignal, progress: Progress) -> None:
        self._settings = settings
        self._committed = committed
        self._progress = progress
        self._process: asyncio.subprocess.Process | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False
        self._telling = Telling()

    async def start(self) -> None:
        """The process up, its store open; DeriverProcessError if it does not come up."""
        following = await self._spawn()
        self._tasks = [
            asyncio.create_task(self._follow(following), name="deriver-process"),
            asyncio.create_task(self._tell_commits(), name="deriver-commits"),
        ]

    async def close(self) -> None:
        """Told to stop (its pipe closed) and heard to its last pass; killed if it outstays
        STOP_SECONDS."""
        self._stopping = True
        self._close_pipe()
        if self._tasks:
            follow, tell = self._tasks
            tell.cancel()
            # Its last pass heard, then the end of its output.
            done, _ = await asyncio.wait([follow], timeout=STOP_SECONDS)
            if not done:
                follow.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
        # The process now, started again perhaps while this one was told to stop.
        process = self._process
        if process is None or process.returncode is not None:
            return
        self._close_pipe()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(process.wait(), STOP_SECONDS)
        if process.returncode is None:
            log.error("the deriver's process did not stop in time", extra={"pid": process.pid})
            process.kill()
            await process.wait()

    def _close_pipe(self) -> None:
        """Tell the process to stop: its pipe from this one closes."""
        if self._process is not None and self._process.stdin is not None:
            self._process.stdin.close()

    async def _spawn(self) -> frames.Messages:
        process = await start_module(
            "logistis.collector.deriver_main", stdout=asyncio.subprocess.PIPE
        )
        self._process = process
        # A process derives once when it comes up, told or not.
        self._telling = Telling()
        assert process.stdin is not None
        assert process.stdout is not None
        process.stdin.write(frames.frame([pickle.dumps(self._settings)]))
        following = frames.messages(process.stdout)
        try:
            first = await asyncio.wait_for(anext(following, None), START_SECONDS)
        except TimeoutError:
            first = None
        if first != ["up"]:
            if process.returncode is None:
                process.kill()
            code = await process.wait()
            raise DeriverProcessError(f"the deriver's process did not start (exit {code})")
        log.info("deriving in a process of its own", extra={"pid": process.pid})
        return following

    async def _follow(self, following: frames.Messages | None) -> None:
        """Hear each pass; when the process ends unasked, start another."""
        while following is not None:
            async for message in following:
                self._heard(PassReport.from_wire(message[1]))
            process = self._process
            code = await process.wait() if process is not None else None
            if self._stopping:
                return
            log.error("the deriver's process stopped; starting it again", extra={"exit": code})
            following = await self._respawn()

    async def _respawn(self) -> frames.Messages | None:
        """Another process, once one starts; None when the collector stops meanwhile."""
        while True:
            await asyncio.sleep(RESTART_SECONDS)
            if self._stopping:
                return None
            try:
                return await self._spawn()
            except (DeriverProcessError, OSError) as error:
                log.warning("the deriver's process did not start", extra={"error": str(error)})

    async def _tell_commits(self) -> None:
        while True:
            await self._committed.next_commit().wait()
            if self._telling.committed():
                self._tell()

    def _heard(self, report: PassReport) -> None:
        self._progress.heard(report)
        if self._telling.passed():
            self._tell()

    def _tell(self) -> None:
        stdin = self._process.stdin if self._process is not None else None
        if stdin is not None and not stdin.is_closing():
            stdin.write(COMMITTED)


class Telling:
    """When the process is sent a byte: for a commit group when it was told of none since its
    last pass, else at that pass's report (the pass may have read before the group landed).
    A byte each pass at the most: a byte each group cost the event loop a write to the pipe
    and the process a wake-up, under load for nothing (it was deriving already)."""

    def __init__(self) -> None:
        # Sent a byte not yet followed by a report, and groups committed since.
        self._told = False
        self._untold = False

    def committed(self) -> bool:
        """A group committed: whether to send a byte now."""
        if self._told:
            self._untold = True
            return False
        self._told = True
        return True

    def passed(self) -> bool:
        """A pass's report heard: whether to send a byte now (for groups it may have missed)."""
        if self._untold:
            self._untold = False
            return True
        self._told = False
        return False

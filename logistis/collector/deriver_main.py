"""The deriver's process (`deriver_process.py` starts it, follows it and stops it): reads its
settings, derives the collector's commits until the pipe from the collector closes, and reports
each pass on standard output."""

from __future__ import annotations

import asyncio
import contextlib
import os
import pickle
import signal
import sys
from pathlib import Path
from typing import BinaryIO

import uvloop

from logistis.collector import logs
from logistis.collector.cli import in_one_line
from logistis.collector.errors import ExitCode
from logistis.collector.interpreter import tune_for_serving
from logistis.collector.pipeline import frames
from logistis.collector.pipeline.deriver import Deriver
from logistis.collector.pipeline.progress import PassReport
from logistis.collector.pipeline.writer import CommitSignal
from logistis.collector.settings import Settings
from logistis.collector.store.sqlite import SQLiteStore


class _Reports:
    """Messages to the collector, each a frame on the pipe to it: "up", then each pass."""

    def __init__(self, pipe: BinaryIO) -> None:
        self._pipe = pipe

    def heard(self, report: PassReport) -> None:
        self.send(["pass", report.to_wire()])

    def send(self, message: list[object]) -> None:
        self._pipe.write(frames.frame(message))
        self._pipe.flush()


async def derive_apart(settings: Settings, reports: _Reports) -> None:
    """Derive the collector's commits until the pipe from it closes."""
    committed = CommitSignal()
    path = Path(settings.store.path)
    async with SQLiteStore.open(path, gitops=settings.gitops, prepared=True) as store:
        deriver = Deriver(store, committed, reports, settings.notify)
        deriving = deriver.start()
        following = asyncio.ensure_future(_follow_commits(committed))
        try:
            reports.send(["up"])
            await asyncio.wait((deriving, following), return_when=asyncio.FIRST_COMPLETED)
            if deriving.done():
                # It failed unexpectedly: this process ends, and the collector starts another.
                deriving.result()
        finally:
            following.cancel()
            await deriver.close()


async def _follow_commits(committed: CommitSignal) -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while await reader.read(frames.READ_BYTES):
        committed.fire()


def _read_settings() -> Settings:
    """The settings, the first frame on standard input (read to its last byte alone: what
    follows is the commits' bytes)."""
    (pickled,) = frames.read_frame(sys.stdin.fileno())
    settings: Settings = pickle.loads(pickled)
    return settings


def main() -> int:
    settings = _read_settings()
    # The reports leave on what was standard output; whatever is printed goes to the log.
    reports = _Reports(os.fdopen(os.dup(sys.stdout.fileno()), "wb"))
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    logs.configure(settings.log_format, settings.log_level, process="deriver")
    # The collector says when to stop, by closing the pipe: a Ctrl-C in a terminal reaches
    # the whole process group, and this process must not end before the collector's last pass.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, signal.SIG_IGN)

    def run() -> int:
        tune_for_serving()
        with contextlib.suppress(BrokenPipeError):  # the collector went away first
            uvloop.run(derive_apart(settings, reports))
        return ExitCode.OK

    return in_one_line("logistis-collector deriver", run)


if __name__ == "__main__":
    sys.exit(main())

"""The deriver's process (`deriver_process.py` starts it, follows it and stops it): reads its
settings, derives the collector's commits until the pipe from the collector closes, and reports
each pass on standard output."""

from __future__ import annotations

import asyncio
import contextlib
import pickle
import signal
import sys
from pathlib import Path

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
    """Each pass's report, a frame on standard output."""

    def heard(self, report: PassReport) -> None:
        _send(["pass", report.to_wire()])


def _send(message: list[object]) -> None:
    sys.stdout.buffer.write(frames.frame(message))
    sys.stdout.buffer.flush()


async def derive_apart(settings: Settings) -> None:
    """Derive the collector's commits until the pipe from it closes."""
    committed = CommitSignal()
    path = Path(settings.store.path)
    async with SQLiteStore.open(path, gitops=settings.gitops, prepared=True) as store:
        deriver = Deriver(store, committed, _Reports(), settings.notify)
        deriving = deriver.start()
        following = asyncio.ensure_future(_follow_commits(committed))
        try:
            _send(["up"])
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
    logs.configure(settings.log_format, settings.log_level, process="deriver")
    # The collector says when to stop, by closing the pipe: a Ctrl-C in a terminal reaches
    # the whole process group, and this process must not end before the collector's last pass.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, signal.SIG_IGN)

    def run() -> int:
        tune_for_serving()
        with contextlib.suppress(BrokenPipeError):  # the collector went away first
            uvloop.run(derive_apart(settings))
        return ExitCode.OK

    return in_one_line("logistis-collector deriver", run)


if __name__ == "__main__":
    sys.exit(main())

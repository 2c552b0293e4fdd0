"""`--workers N`: N processes answer the webhook port, this one writes.

One Python process answers reviews, commits them and derives their facts under one GIL: about
a core's worth of reviews a second. With workers, each of N processes (`worker.py`) listens on
the webhook port with SO_REUSEPORT, so the kernel spreads the callers' connections over them,
and does the work of an answer: TLS, HTTP, decoding, capture rules, redaction. On SQLite their
events come here over the relay (`pipeline/relay.py`) to the one writer; on PostgreSQL each
worker commits its own. The deriver, retention, notifications and the query API stay here.

A worker that dies is started again; at shutdown each drains and finishes its reviews in
flight before this process closes the writer they commit through.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import pickle
import shutil
import signal
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

from logistis.collector.edge.webhook import SHUTDOWN_GRACE_SECONDS
from logistis.collector.errors import CollectorError
from logistis.collector.pipeline.relay import RelayServer
from logistis.collector.runtime import Runtime
from logistis.collector.spawn import start_module
from logistis.collector.trust.callers import PathToken
from logistis.collector.worker import WorkerSpec

log = logging.getLogger(__name__)

# A worker that stopped unasked is started again after this pause.
RESTART_SECONDS = 1.0
# Longest wait for a worker to listen on the port.
START_SECONDS = 30.0


class WorkerError(CollectorError):
    """A webhook worker could not start."""


class WebhookWorkers:
    def __init__(self, runtime: Runtime, token: PathToken, cert: Path, key: Path) -> None:
        self._runtime = runtime
        self._count = runtime.settings.workers
        self._token = token
        self._cert = cert
        self._key = key
        self._processes: dict[int, asyncio.subprocess.Process] = {}
        self._watches: set[asyncio.Task[None]] = set()
        self._stopping = False
        self._relay: RelayServer | None = None

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[WebhookWorkers]:
        """Every worker listening on the port; at the end, every one stopped."""
        directory = Path(tempfile.mkdtemp(prefix="logistis-relay-"))  # its owner's alone
        runtime = self._runtime
        self._relay = RelayServer(
            directory / "relay.sock",
            runtime.writer,
            runtime.metrics,
            runtime.unready,
            self._token,
            runtime.kinds,
        )
        try:
            await self._relay.start()
            await asyncio.gather(*(self._start(index) for index in range(self._count)))
            yield self
        finally:
            await self._stop(0.0)
            await self._relay.close()
            shutil.rmtree(directory, ignore_errors=True)

    async def drain(self, seconds: float) -> None:
        """Unready, then every worker drained for `seconds` and stopped."""
        self._runtime.draining.set()
        await self._stop(seconds)

    async def _start(self, index: int) -> None:
        assert self._relay is not None
        process = await start_module("logistis.collector.worker")
        assert process.stdin is not None
        spec = WorkerSpec(index, self._runtime.settings, self._relay.path, self._cert, self._key)
        process.stdin.write(pickle.dumps(spec))
        await process.stdin.drain()
        process.stdin.close()
        self._processes[index] = process
        up = self._relay.up(index)
        up.clear()
        listening = asyncio.create_task(up.wait())
        ended = asyncio.create_task(process.wait())
        done, _ = await asyncio.wait(
            (listening, ended), timeout=START_SECONDS, return_when=asyncio.FIRST_COMPLETED
        )
        listening.cancel()
        if listening not in done:
            ended.cancel()
            process.kill()
            await process.wait()
            raise WorkerError(f"webhook worker {index} did not start (exit {process.returncode})")
        watch = asyncio.create_task(self._watch(index, ended), name=f"worker-{index}")
        self._watches.add(watch)
        watch.add_done_callback(self._watches.discard)
        log.info("webhook worker listening", extra={"worker": index, "pid": process.pid})

    async def _watch(self, index: int, ended: asyncio.Task[int]) -> None:
        """Start the worker again if it stops unasked."""
        code = await ended
        if self._stopping:
            return
        log.error(
            "webhook worker stopped; starting it again", extra={"worker": index, "exit": code}
        )
        while not self._stopping:
            await asyncio.sleep(RESTART_SECONDS)
            with contextlib.suppress(WorkerError):  # its own line said why; tried again
                await self._start(index)
                return

    async def _stop(self, drain_seconds: float) -> None:
        self._stopping = True
        running = [p for p in self._processes.values() if p.returncode is None]
        for process in running:
            process.send_signal(signal.SIGTERM)
        if running:
            # Each drains, then finishes the reviews it holds, as this process would alone.
            deadline = drain_seconds + SHUTDOWN_GRACE_SECONDS + 5.0
            await asyncio.wait([asyncio.create_task(p.wait()) for p in running], timeout=deadline)
            for process in running:
                if process.returncode is None:
                    log.error("webhook worker did not stop in time", extra={"pid": process.pid})
                    process.kill()
                    await process.wait()
        for watch in list(self._watches):
            watch.cancel()

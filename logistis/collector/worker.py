"""A webhook worker process: answers reviews on the shared port, hands their events on.

Started by the writing process (`workers.py`) as `python -m logistis.collector.worker`, its
`WorkerSpec` pickled on standard input. It reads nothing of the store: on SQLite its events go
over the relay (`pipeline/relay.py`) to the one writer; on PostgreSQL it commits them itself.
Its readiness is the writing process's (and its own writer's). It stops on SIGTERM (after
draining as the collector would) or when the writing process goes away.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import logging
import pickle
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import uvloop

from logistis.collector import logs
from logistis.collector.admission.kinds import KindResolver
from logistis.collector.admission.redaction import Redactor
from logistis.collector.cli import in_one_line
from logistis.collector.edge.webhook import create_webhook_app, serving_webhook
from logistis.collector.errors import ExitCode
from logistis.collector.interpreter import tune_for_serving
from logistis.collector.metrics import Metrics
from logistis.collector.pipeline.relay import RelayClient, Unready
from logistis.collector.runtime import (
    DRAINING,
    Admission,
    Committer,
    capture_rules,
    opened_store,
    redaction_key,
    start_writer,
    writer_unready,
)
from logistis.collector.settings import Settings
from logistis.collector.signals import stop_on_signals
from logistis.collector.store.url import POSTGRESQL
from logistis.collector.trust.callers import WEBHOOK_PATH, ClientAuthorities, PathToken, WebhookGate
from logistis.collector.trust.tls import ReloadingTLS

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class WorkerSpec:
    index: int
    settings: Settings
    relay: Path
    """The writing process's Unix socket."""
    cert: Path
    key: Path
    """The certificate the writing process serves (it renews them; each process follows)."""


async def serve_worker(spec: WorkerSpec) -> None:
    settings = spec.settings
    stop = stop_on_signals()
    metrics = Metrics()
    relay = await RelayClient.connect(
        spec.relay, spec.index, metrics, settings.commit_timeout_seconds
    )
    try:
        gate = WebhookGate(
            PathToken(relay.token),
            ClientAuthorities.from_files(settings.client_ca_files, (WEBHOOK_PATH,)),
        )
        relay.on_token = gate.token.set
        tls = ReloadingTLS(spec.cert, spec.key)
        gate.authorities.configure(tls.context)
        async with (
            _committing(settings, metrics, relay) as (writer, writer_unready),
            tls.following(),
        ):
            admission = _admission(settings, metrics, relay, writer, writer_unready)
            await _answer(spec, admission, gate, tls, relay, stop)
    finally:
        await relay.close()


async def _answer(
    spec: WorkerSpec,
    admission: Admission,
    gate: WebhookGate,
    tls: ReloadingTLS,
    relay: RelayClient,
    stop: asyncio.Event,
) -> None:
    settings = spec.settings
    app = create_webhook_app(admission, gate)
    async with serving_webhook(app, settings, tls.context, reuse_port=True):
        relay.say_up()
        gc.freeze()  # as server.py does, for the same slow full collections
        await _until_stopped(stop, relay)
        if not relay.lost.is_set():
            admission.draining.set()
            await asyncio.sleep(settings.drain_seconds)


@contextlib.asynccontextmanager
async def _committing(
    settings: Settings, metrics: Metrics, relay: RelayClient
) -> AsyncIterator[tuple[Committer, Unready | None]]:
    """Where this worker's events go, and what says whether that can take them: on SQLite the
    writing process's one writer, over the relay; on PostgreSQL, which takes many writers, a
    writer of the worker's own (its commits wake the writing process's deriver as another
    collector's do)."""
    if settings.store.backend != POSTGRESQL:
        yield relay, None
        return
    async with opened_store(settings, derives=False) as store:
        writer = start_writer(settings, store, metrics)
        try:
            yield writer, functools.partial(writer_unready, writer, store.check_writable)
        finally:
            await writer.close()


def _admission(
    settings: Settings,
    metrics: Metrics,
    relay: RelayClient,
    writer: Committer,
    writer_unready: Unready | None,
) -> Admission:
    draining = asyncio.Event()
    return Admission(
        settings,
        metrics,
        capture_rules(settings),
        Redactor(redaction_key(settings)),
        KindResolver(relay.kinds),
        writer,
        draining,
        functools.partial(_unready, draining, relay, writer_unready),
    )


async def _unready(
    draining: asyncio.Event, relay: RelayClient, writer_unready: Unready | None
) -> str | None:
    """Draining, this worker's own writer (on PostgreSQL), then the writing process's word."""
    if draining.is_set():
        return DRAINING
    if writer_unready is not None and (problem := await writer_unready()):
        return problem
    return await relay.unready()


async def _until_stopped(stop: asyncio.Event, relay: RelayClient) -> None:
    waits = [asyncio.create_task(stop.wait()), asyncio.create_task(relay.lost.wait())]
    await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    for wait in waits:
        wait.cancel()
    if relay.lost.is_set() and not stop.is_set():
        log.error("the writing process is gone: this webhook worker stops")


def main() -> int:
    spec: WorkerSpec = pickle.load(sys.stdin.buffer)
    logs.configure(spec.settings.log_format, spec.settings.log_level, worker=spec.index)

    def run() -> int:
        tune_for_serving()
        uvloop.run(serve_worker(spec))
        return ExitCode.OK

    return in_one_line(f"logistis-collector worker {spec.index}", run)


if __name__ == "__main__":
    sys.exit(main())

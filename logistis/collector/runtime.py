"""The collector's running parts, opened and closed together.

`open_runtime` is the one place that builds them from the settings; the HTTP apps receive
the result through an `AppKey` and never construct anything themselves.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from logistis.collector.admission.kinds import KindResolver
from logistis.collector.admission.redaction import Redactor
from logistis.collector.admission.rules import CaptureRules, build_rules
from logistis.collector.deriver_process import DeriverProcess
from logistis.collector.history.events import Event
from logistis.collector.metrics import Metrics
from logistis.collector.pipeline.coverage import beat_forever, collector_id
from logistis.collector.pipeline.deriver import FAR_BEHIND_SECONDS, Deriver
from logistis.collector.pipeline.notify.outbox import start_dispatcher
from logistis.collector.pipeline.progress import Progress
from logistis.collector.pipeline.relay import Unready
from logistis.collector.pipeline.retention import enforce_forever
from logistis.collector.pipeline.writer import Writer
from logistis.collector.settings import Settings, SettingsError
from logistis.collector.store import Store, open_store
from logistis.collector.store.url import POSTGRESQL

log = logging.getLogger(__name__)

KEY_FILE = "redaction.key"
DRAINING = "draining: shutting down"
"""Why a collector (or a webhook worker) told to stop is unready while it still answers."""
# How long a readiness check waits for the store to show that it takes writes.
READY_CHECK_SECONDS = 1.0

Check = Callable[[], Awaitable[None]]


class Committer(Protocol):
    """Where an admitted event goes: the writer, or in a webhook worker the relay to it."""

    def submit(self, event: Event) -> asyncio.Future[None]: ...


@dataclass(frozen=True, slots=True)
class Admission:
    """What answering a review takes: the rules, redaction and kinds that turn it into an
    event, somewhere to commit the event, and what says whether this collector is ready. The
    runtime gives its own; a webhook worker (`worker.py`) builds one around its relay."""

    settings: Settings
    metrics: Metrics
    rules: CaptureRules
    redactor: Redactor
    kinds: KindResolver
    writer: Committer
    draining: asyncio.Event
    unready: Unready
    """Why this collector is not ready, or None."""


@dataclass
class Runtime:
    settings: Settings
    store: Store
    writer: Writer
    progress: Progress
    """Where deriving stands (the deriver runs in this process, or in one of its own)."""
    rules: CaptureRules
    redactor: Redactor
    kinds: KindResolver
    metrics: Metrics
    stopping: asyncio.Event = field(default_factory=asyncio.Event)
    draining: asyncio.Event = field(default_factory=asyncio.Event)
    """Set on SIGTERM: still answering, but unready, until the drain period ends."""

    @property
    def admission(self) -> Admission:
        return Admission(
            self.settings,
            self.metrics,
            self.rules,
            self.redactor,
            self.kinds,
            self.writer,
            self.draining,
            self.unready,
        )

    async def unready(self) -> str | None:
        """Why the collector should get no reviews now, or None: draining, the writer
        stopped, the deriver far behind, or the store not taking writes."""
        if self.draining.is_set():
            return DRAINING
        behind = self.progress.behind_seconds()
        if self.writer.running and behind > FAR_BEHIND_SECONDS:
            return f"deriving far behind: an event has waited {behind:.0f} s"
        return await writer_unready(self.writer, self.store.check_writable)


async def writer_unready(writer: Writer, check_writable: Check) -> str | None:
    """Why `writer` cannot commit now, or None: it is stopped, or the store takes no writes."""
    if not writer.running:
        return f"writer not running: {writer.crashed or 'stopped'}"
    # After a failed commit only a write shows that the store takes writes again, and a
    # collector that is not ready gets no admission traffic whose commit could show it.
    check = check_writable if writer.last_error is None else writer.recover
    # A check that outlives the timeout runs to its end in the background: cancelled after
    # its BEGIN, it would leave a transaction open on the one write connection.
    running = asyncio.ensure_future(check())
    running.add_done_callback(_retrieve_exception)
    try:
        await asyncio.wait_for(asyncio.shield(running), timeout=READY_CHECK_SECONDS)
    except Exception as error:  # noqa: BLE001 - any failure, a timeout included, is unready
        return writer.last_error or f"store not writable: {error or type(error).__name__}"
    return None


def _retrieve_exception(future: asyncio.Future[None]) -> None:
    """Mark a background future's failure as seen; whoever cared has logged or counted it."""
    if not future.cancelled():
        future.exception()


def opened_store(
    settings: Settings, *, derives: bool = True
) -> contextlib.AbstractAsyncContextManager[Store]:
    return open_store(
        settings.store,
        max_events_per_resource=settings.max_events_per_resource,
        gitops=settings.gitops,
        derives=derives,
    )


def capture_rules(settings: Settings) -> CaptureRules:
    return build_rules(
        settings.capture,
        record_dry_run=settings.record_dry_run,
        include=settings.include,
        exclude=settings.exclude,
    )


@contextlib.asynccontextmanager
async def open_runtime(settings: Settings, *, deriving: bool = True) -> AsyncIterator[Runtime]:
    """The runtime `settings` describe; without `deriving`, no deriver runs for it (a tool
    that derives by hand, or measures the store without one)."""
    # Rules first: a bad rule must stop the start before anything is opened.
    rules = capture_rules(settings)
    if settings.store_url is None:
        usable_dir(settings.data_dir, "--data-dir")  # the embedded default's file goes there
    metrics = Metrics()
    retention = settings.retention
    apart = deriving and derives_apart(settings)
    async with (
        # Objects in hand for a deriver in this process only.
        opened_store(settings, derives=deriving and not apart) as store,
        contextlib.AsyncExitStack() as started,
    ):
        # Only now: a collector whose store never answers leaves nothing behind.
        redactor = Redactor(redaction_key(settings))
        kinds = KindResolver(await store.known_kinds())
        # Each part is registered for closing as soon as it has started, so a failure
        # starting the next one stops what runs already; they close in reverse order.
        writer = start_writer(settings, store, metrics)
        started.push_async_callback(writer.close)
        progress = Progress(metrics)
        if apart:
            process = DeriverProcess(settings, writer.committed, progress)
            started.push_async_callback(process.close)
            await process.start()
        elif deriving:
            deriver = Deriver(store, writer.committed, progress, settings.notify)
            started.push_async_callback(deriver.close)
            deriver.start()
        dispatcher = start_dispatcher(store, settings.notify, metrics, progress.ready)
        if dispatcher is not None:
            started.push_async_callback(dispatcher.close)
        runtime = Runtime(settings, store, writer, progress, rules, redactor, kinds, metrics)
        beats = beat_forever(
            store, collector_id(), settings.heartbeat_interval_seconds, writer.committed
        )
        for name, work in (
            ("retention", enforce_forever(store, retention, metrics)),
            ("heartbeat", beats),
            # Other collectors' commits wake this one's streams as its own do.
            ("commits", store.watch_commits(writer.committed.fire)),
        ):
            started.push_async_callback(_cancel, asyncio.create_task(work, name=name))
        started.callback(runtime.stopping.set)
        yield runtime


def derives_apart(settings: Settings) -> bool:
    """Whether the deriver runs in a process of its own: on SQLite (`deriver_process.py`)."""
    return settings.store.backend != POSTGRESQL


def start_writer(settings: Settings, store: Store, metrics: Metrics) -> Writer:
    writer = Writer(
        store,
        metrics,
        max_batch=settings.max_commit_batch,
        commit_timeout=settings.commit_timeout_seconds,
    )
    writer.start()
    return writer


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def usable_dir(path: Path, flag: str) -> None:
    """Created if missing, and writable; otherwise one line naming the flag that chose it."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise SettingsError(f"{flag} {path}: {error.strerror}") from None
    if not os.access(path, os.W_OK):
        raise SettingsError(f"{flag} {path}: not writable")


def redaction_key(settings: Settings) -> bytes:
    if settings.redaction_key_file is None:
        usable_dir(settings.data_dir, "--data-dir")
        return load_or_create_key(settings.data_dir / KEY_FILE)
    try:
        return load_or_create_key(settings.redaction_key_file)
    except OSError as error:
        raise SettingsError(
            f"--redaction-key-file {settings.redaction_key_file}: {error.strerror}"
        ) from None


def load_or_create_key(path: Path) -> bytes:
    """The HMAC key behind Secret digests: stable across restarts, so digests stay comparable."""
    try:
        key = path.read_bytes()
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        key = secrets.token_bytes(32)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(key)
        log.info("generated a redaction key", extra={"path": str(path)})
    if len(key) < 16:
        raise SettingsError(f"{path}: redaction key must be at least 16 bytes")
    return key

"""Events handed from webhook worker processes to the one process that writes.

With `--workers N` (`workers.py`), N processes answer reviews on the webhook port and one
writes: SQLite has one writer, and the group commit, the deriver and the notifications stay
where they are. A worker hands each event over a Unix socket and answers its review when the
writing process says the event is committed, with the outcomes its own writer would give: done,
or `NotRecorded` with the writer's reason (the commit timeout kept by that writer). The socket
also carries what a worker needs of the writing process: whether the collector is ready, the
webhook's path token (self-managed TLS renews it), the kinds known at start, and the worker's
metrics, which the writing process renders with its own.

Each message is a frame (`frames.py`).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from logistis.collector.admission.kinds import KindResolver
from logistis.collector.history.events import Event, RawJSON, ResourceRef, UserInfo, json_bytes
from logistis.collector.metrics import Metrics
from logistis.collector.pipeline import frames
from logistis.collector.pipeline.writer import COMMIT_TIMEOUT, NotRecorded, Writer
from logistis.collector.trust.callers import PathToken

log = logging.getLogger(__name__)

UNREACHABLE = "writer unreachable"
"""Why a worker's event is not recorded when the writing process is gone."""
# A worker's counts reach the writing process this often (and once more as it stops).
COUNTS_SECONDS = 1.0
# A worker asking whether the collector is ready waits this long for the answer.
READY_ANSWER_SECONDS = 2.0
# An event not answered by the writing process within the commit timeout and this much more is
# answered by the worker, as at the commit timeout (looked for this often).
LATE_SECONDS = 1.0
SWEEP_SECONDS = 0.25


Unready = Callable[[], Awaitable[str | None]]


def event_to_wire(event: Event) -> list[Any]:
    """An event as admitted (nothing derived yet), its objects as JSON bytes."""
    user, resource = event.user, event.resource
    return [
        event.uid,
        int(event.time.timestamp() * 1_000_000),
        event.operation,
        event.dry_run,
        [user.username, user.uid, list(user.groups), user.extra],
        [resource.group, resource.version, resource.kind, resource.resource, resource.subresource],
        event.namespace,
        event.name,
        event.field_manager,
        _json_bytes(event.object),
        _json_bytes(event.old_object),
        event.options,
    ]


def event_from_wire(fields: Sequence[Any]) -> Event:
    uid, micros, operation, dry_run, user, resource, namespace, name, manager, new, old, options = (
        fields
    )
    username, user_uid, groups, extra = user
    return Event(
        uid=uid,
        time=datetime.fromtimestamp(micros / 1_000_000, tz=UTC),
        operation=operation,
        dry_run=dry_run,
        user=UserInfo(username, user_uid, tuple(groups), extra),
        resource=ResourceRef(*resource),
        namespace=namespace,
        name=name,
        field_manager=manager,
        object=None if new is None else RawJSON(new),
        old_object=None if old is None else RawJSON(old),
        options=options,
    )


def _json_bytes(value: Any) -> bytes | None:
    return None if value is None else json_bytes(value)


class _Link:
    """The writing half of a connection: the messages of one turn of the event loop leave in
    one write (a commit group's answers, a burst of reviews' events)."""

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self._writer = writer
        self._loop = asyncio.get_running_loop()
        self._frames: list[bytes] = []

    def send(self, message: list[Any]) -> None:
        if self._writer.is_closing():
            return
        if not self._frames:
            self._loop.call_soon(self._flush)
        self._frames.append(frames.frame(message))

    def _flush(self) -> None:
        waiting, self._frames = self._frames, []
        if waiting and not self._writer.is_closing():
            self._writer.write(b"".join(waiting))

    async def close(self) -> None:
        self._flush()
        self._writer.close()
        with contextlib.suppress(ConnectionError):
            await self._writer.wait_closed()


class RelayServer:
    """The writing process's end: one connection per worker."""

    def __init__(
        self,
        path: Path,
        writer: Writer,
        metrics: Metrics,
        unready: Unready,
        token: PathToken,
        kinds: KindResolver,
    ) -> None:
        self.path = path
        self._writer = writer
        self._metrics = metrics
        self._unready = unready
        self._token = token
        self._kinds = kinds
        self._links: set[_Link] = set()
        self._questions: set[asyncio.Task[None]] = set()
        self._up: dict[int, asyncio.Event] = {}
        self._connections = itertools.count()
        self._server: asyncio.AbstractServer | None = None
        token.follow(self._send_token)

    async def start(self) -> None:
        self._server = await asyncio.start_unix_server(self._connected, path=str(self.path))

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for link in list(self._links):
            await link.close()
        for task in self._questions:
            task.cancel()

    def up(self, worker: int) -> asyncio.Event:
        """Set once worker `worker` listens on the webhook port."""
        return self._up.setdefault(worker, asyncio.Event())

    async def _connected(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        link = _Link(writer)
        messages = frames.messages(reader)
        hello = await anext(messages, None)
        if hello is None:
            await link.close()
            return
        worker = int(hello[1])
        # A worker started again has the same number: its counts start from zero anew.
        name = f"worker-{worker}-{next(self._connections)}"
        link.send(["hello", self._token.value, self._kinds.learned()])
        self._links.add(link)
        try:
            async for message in messages:
                try:
                    self._take(link, worker, name, message)
                except Exception:
                    log.exception("a worker's message could not be taken", extra={"worker": worker})
        finally:
            self._links.discard(link)
            self._metrics.end_process(name)
            await link.close()

    def _take(self, link: _Link, worker: int, name: str, message: list[Any]) -> None:
        kind = message[0]
        if kind == "event":
            self._commit(link, message[1], message[2])
        elif kind == "ready?":
            task = asyncio.create_task(self._answer_ready(link, message[1]))
            self._questions.add(task)
            task.add_done_callback(self._questions.discard)
        elif kind == "counts":
            self._metrics.add_process(name, message[1])
        elif kind == "up":
            self.up(worker).set()

    def _commit(self, link: _Link, seq: int, fields: list[Any]) -> None:
        try:
            committed = self._writer.submit(event_from_wire(fields))
        except NotRecorded as error:
            link.send(["done", seq, error.reason])
            return
        except Exception:
            log.exception("a worker's event could not be queued")
            link.send(["done", seq, "internal error"])
            return
        committed.add_done_callback(lambda future: link.send(["done", seq, _reason(future)]))

    async def _answer_ready(self, link: _Link, seq: int) -> None:
        link.send(["ready", seq, await self._unready()])

    def _send_token(self, token: str) -> None:
        for link in self._links:
            link.send(["token", token])


def _reason(committed: asyncio.Future[None]) -> str | None:
    """None for a committed event, else why it was not (as the writer said)."""
    if committed.cancelled():
        return "internal error"
    error = committed.exception()
    if error is None:
        return None
    return error.reason if isinstance(error, NotRecorded) else "internal error"


class RelayClient:
    """A worker's end: events submitted as to a writer, readiness asked, the token followed."""

    def __init__(
        self,
        messages: AsyncIterator[list[Any]],
        link: _Link,
        metrics: Metrics,
        commit_timeout: float,
        hello: list[Any],
    ) -> None:
        _, token, kinds = hello
        self.token: str | None = token
        self.kinds: dict[tuple[str, str], str] = {(g, r): kind for g, r, kind in kinds}
        self.on_token: Callable[[str], None] = lambda token: None
        self.lost = asyncio.Event()
        """Set when the writing process is gone: the worker has nothing left to answer for."""
        self._messages = messages
        self._link = link
        self._metrics = metrics
        self._waiting: dict[int, asyncio.Future[Any]] = {}
        self._seq = 0
        self._late_after = commit_timeout + LATE_SECONDS
        self._deadlines: deque[tuple[float, int]] = deque()
        """(deadline, seq) of each event sent, oldest first; let go at its deadline."""
        self._tasks = [
            asyncio.create_task(self._follow(), name="relay-follow"),
            asyncio.create_task(self._count_forever(), name="relay-counts"),
            asyncio.create_task(self._expire_forever(), name="relay-late"),
        ]

    @classmethod
    async def connect(
        cls, path: Path, worker: int, metrics: Metrics, commit_timeout: float
    ) -> RelayClient:
        reader, writer = await asyncio.open_unix_connection(str(path))
        link, messages = _Link(writer), frames.messages(reader)
        link.send(["hello", worker])
        hello = await anext(messages, None)
        if hello is None:
            await link.close()
            raise ConnectionError(f"{path}: the writing process closed the relay")
        return cls(messages, link, metrics, commit_timeout, hello)

    def submit(self, event: Event) -> asyncio.Future[None]:
        """As `Writer.submit`: resolved when the writing process has committed the event."""
        if self.lost.is_set():
            raise NotRecorded(UNREACHABLE)
        seq, committed = self._ask()
        self._link.send(["event", seq, event_to_wire(event)])
        self._deadlines.append((asyncio.get_running_loop().time() + self._late_after, seq))
        return committed

    async def unready(self) -> str | None:
        if self.lost.is_set():
            return UNREACHABLE
        seq, answer = self._ask()
        self._link.send(["ready?", seq])
        try:
            problem: str | None = await asyncio.wait_for(answer, READY_ANSWER_SECONDS)
        except TimeoutError:
            return "the writing process did not say whether it is ready"
        except NotRecorded:
            return UNREACHABLE
        return problem

    def say_up(self) -> None:
        self._link.send(["up"])

    async def close(self) -> None:
        """After the last review: the final counts, then the connection closed."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._link.send(["counts", self._metrics.snapshot()])
        await self._link.close()

    def _ask(self) -> tuple[int, asyncio.Future[Any]]:
        self._seq += 1
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiting[self._seq] = future
        return self._seq, future

    async def _follow(self) -> None:
        try:
            async for message in self._messages:
                self._take(message)
        finally:
            self.lost.set()
            for future in self._waiting.values():
                if not future.done():
                    future.set_exception(NotRecorded(UNREACHABLE))
            self._waiting.clear()

    def _take(self, message: list[Any]) -> None:
        kind = message[0]
        if kind == "token":
            self.token = message[1]
            self.on_token(message[1])
            return
        future = self._waiting.pop(message[1], None)
        if future is None or future.done():
            return
        if kind == "done" and message[2] is not None:
            future.set_exception(NotRecorded(message[2]))
        else:
            future.set_result(message[2])

    async def _expire_forever(self) -> None:
        """A writing process stopped or stuck costs a review its commit timeout (and a second),
        never more: the worker answers it as the writer would have at the timeout."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(SWEEP_SECONDS)
            now = loop.time()
            while self._deadlines and self._deadlines[0][0] <= now:
                future = self._waiting.pop(self._deadlines.popleft()[1], None)
                if future is not None and not future.done():
                    future.set_exception(NotRecorded(COMMIT_TIMEOUT))

    async def _count_forever(self) -> None:
        while True:
            await asyncio.sleep(COUNTS_SECONDS)
            self._link.send(["counts", self._metrics.snapshot()])

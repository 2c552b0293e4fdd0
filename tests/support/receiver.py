"""A real HTTP receiver on 127.0.0.1 for the notification tests: an aiohttp server in a thread
of its own that keeps every request it gets and answers as the test says (200 by default)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web

from tests.support.collector import free_port


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float
    status: int = 0

    def json(self) -> Any:
        return orjson.loads(self.body)


@dataclass(frozen=True)
class Answer:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


Script = Callable[[Received], Answer]


class Receiver:
    def __init__(self, script: Script | None = None) -> None:
        self.script: Script = script or (lambda _: Answer())
        self.received: list[Received] = []
        self.port = free_port()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def taken(self, path: str | None = None) -> list[Received]:
        """The requests answered 2xx (at `path`, if given)."""
        return [r for r in list(self.received) if 200 <= r.status < 300 and path in (None, r.path)]

    async def _handle(self, request: web.Request) -> web.Response:
        received = Received(request.path, dict(request.headers), await request.read(), time.time())
        self.received.append(received)
        answer = self.script(received)
        if answer.delay:
            await asyncio.sleep(answer.delay)
        received.status = answer.status
        return web.Response(status=answer.status, headers=answer.headers)

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_post("/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def _stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def __enter__(self) -> Receiver:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

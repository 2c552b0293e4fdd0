"""One HTTP connection to where the history is served, its failures as `CollectorError`s.

Both clients hold one: what differs between them is how an error status reads (`Check`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx

from logistis.client.protocol import CollectorError, CollectorUnreachable

DEFAULT_TIMEOUT = 10.0
# The collector pings idle streams; a stream silent for this long is taken as dead.
STREAM_IDLE_TIMEOUT = 45.0

Recover = Callable[[], Awaitable[str]]
# Raises the error an error status means; returns quietly for a success.
Check = Callable[[httpx.Response], None]


class Connection:
    """`recover`, when given, is called before a retry after the history became unreachable;
    it returns the base URL to use from then on (a restarted port-forward has a new port)."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        recover: Recover | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        stream_idle_timeout: float = STREAM_IDLE_TIMEOUT,
    ) -> None:
        self.http = http
        self._recover = recover
        self._stream_timeout = httpx.Timeout(timeout, read=stream_idle_timeout)

    @property
    def base_url(self) -> str:
        return str(self.http.base_url).rstrip("/")

    async def aclose(self) -> None:
        await self.http.aclose()

    async def recover(self) -> None:
        if self._recover is not None:
            self.http.base_url = httpx.URL(await self._recover())

    async def get_json(self, path: str, params: list[tuple[str, str]], check: Check) -> Any:
        try:
            # A tuple: httpx types a list of pairs invariantly, so a list of str pairs does not fit.
            response = await self.http.get(path, params=tuple(params))
        except httpx.TransportError as error:
            raise self.unreachable(error) from error
        check(response)
        try:
            return response.json()
        except ValueError as error:
            raise CollectorError(f"{self.base_url}{path}: answer is not JSON") from error

    def unreachable(self, error: httpx.TransportError) -> CollectorUnreachable:
        reason = str(error) or type(error).__name__
        return CollectorUnreachable(f"cannot reach the collector at {self.base_url}: {reason}")

    async def lines(
        self,
        path: str,
        params: list[tuple[str, str]],
        check: Check,
        on_open: Callable[[], None] | None,
        headers: dict[str, str] | None = None,
    ) -> AsyncIterator[str]:
        """The lines of a long-lived answer, as they come; `on_open` is called once the answer
        is a success. Ends when the server ends it."""
        request = self.http.build_request(
            "GET", path, params=tuple(params), headers=headers, timeout=self._stream_timeout
        )
        try:
            response = await self.http.send(request, stream=True)
        except httpx.TransportError as error:
            raise self.unreachable(error) from error
        try:
            if response.is_error:
                await response.aread()
                check(response)
            if on_open is not None:
                on_open()
            async for line in response.aiter_lines():
                yield line
        except httpx.TransportError as error:
            raise self.unreachable(error) from error
        finally:
            await response.aclose()

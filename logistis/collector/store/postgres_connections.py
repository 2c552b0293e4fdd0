"""The PostgreSQL store's connections: its pools, a connection of its own for what holds
session state, and the driver's errors turned into `StoreError` (with the password masked)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from typing import TypeAlias, TypeVar

import asyncpg

from logistis.collector.store.protocol import StoreError
from logistis.collector.store.url import StoreURL

CONNECT_TIMEOUT_SECONDS = 5.0
# A statement the server has not answered by then fails (the server cuts its own at 30 s).
COMMAND_TIMEOUT_SECONDS = 10.0
# What the driver raises when the server refuses, drops or never answers.
DRIVER_ERRORS = (
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
    OSError,
    TimeoutError,
)

T = TypeVar("T")
Connection: TypeAlias = asyncpg.Connection


def pool(url: StoreURL, size: int, settings: dict[str, str]) -> Awaitable[asyncpg.Pool]:
    return asyncpg.create_pool(
        url.url,
        min_size=1,
        max_size=size,
        timeout=CONNECT_TIMEOUT_SECONDS,
        command_timeout=COMMAND_TIMEOUT_SECONDS,
        server_settings=settings,
        reset=_no_session_state,
    )


async def _no_session_state(_: Connection) -> None:
    """A pooled connection given back skips asyncpg's reset query (a round trip per commit group
    and per read): none holds session state (SET LOCAL only, no cursor outside a transaction;
    LISTEN and the retention pass's session lock on connections of their own). asyncpg still
    rolls back a transaction left open."""


async def close(pool: asyncpg.Pool) -> None:
    """Close gracefully, or drop the connections of a server that no longer answers."""
    try:
        await asyncio.wait_for(pool.close(), CONNECT_TIMEOUT_SECONDS)
    except DRIVER_ERRORS:
        pool.terminate()


async def with_connection(pool: asyncpg.Pool, work: Callable[[Connection], Awaitable[T]]) -> T:
    async with pool.acquire(timeout=CONNECT_TIMEOUT_SECONDS) as connection:
        return await work(connection)


async def mapped(url: StoreURL, work: Awaitable[T]) -> T:
    """The driver's errors as the collector's StoreError, once, at the store's edge."""
    try:
        return await work
    except DRIVER_ERRORS as error:
        reason = str(error) or type(error).__name__
        raise StoreError(url.hide(f"{url}: {reason}")) from None


def connect(url: StoreURL, settings: dict[str, str]) -> Awaitable[Connection]:
    """A connection outside the pools, for what holds session state."""
    return asyncpg.connect(
        url.url,
        timeout=CONNECT_TIMEOUT_SECONDS,
        command_timeout=COMMAND_TIMEOUT_SECONDS,
        server_settings=settings,
    )


_PLACEHOLDER = re.compile(r"\?")


def numbered(statement: str) -> str:
    """The filters' `?` placeholders as PostgreSQL's `$1, $2, ...` (none of our SQL holds a
    literal question mark)."""
    counter = iter(range(1, 10_000))
    return _PLACEHOLDER.sub(lambda _: f"${next(counter)}", statement)

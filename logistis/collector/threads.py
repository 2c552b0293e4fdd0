"""The collector's worker threads, named for the operating system too.

`top -H`, `ps -L` and `/proc/<pid>/task/*/comm` then show which part of the collector spends
the CPU (the event loop is the main thread; the store's writer and the deriver have names).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import sys
import threading
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

_PR_SET_NAME = 15
# Linux keeps 15 bytes of a thread's name.
_NAME_BYTES = 15

T = TypeVar("T")


def worker(name: str) -> ThreadPoolExecutor:
    """An executor of one thread called `name`: its work runs in order, one call at a time."""
    return ThreadPoolExecutor(
        max_workers=1, thread_name_prefix=name, initializer=_name_thread, initargs=(name,)
    )


def _name_thread(name: str) -> None:
    if not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    libc.prctl(_PR_SET_NAME, name.encode()[:_NAME_BYTES], 0, 0, 0)


class PassThread:
    """A thread with an event loop of its own, where coroutines run whole: the caller's event
    loop hands each one over once, and what it awaits (reads that do not suspend, computing
    done in place, see `computed`) never goes back through the caller's loop.

    Each hand-over between threads costs about 110-160 µs of CPU on the machine of
    BENCHMARKS.md (two threads woken, whatever the work): a pass of the deriver awaits a dozen
    reads and computations, and run here, costs one."""

    def __init__(self, name: str) -> None:
        self._executor = worker(name)
        self._loop: asyncio.AbstractEventLoop | None = None

    async def run(self, work: Callable[[], Coroutine[Any, Any, T]]) -> T:
        """The coroutine `work()` makes, run to its end in this thread."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._run_whole, work)

    async def call(self, work: Callable[[], T]) -> T:
        """`work()`, in this thread."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, work)

    def shutdown(self) -> None:
        """Close the thread's loop and end the thread, once the work given it is done (again:
        nothing more)."""
        with contextlib.suppress(RuntimeError):  # shut down already
            self._executor.submit(self._close_loop)
        self._executor.shutdown(wait=True)

    def _run_whole(self, work: Callable[[], Coroutine[Any, Any, T]]) -> T:
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
            _here.computes_in_place = True
        return self._loop.run_until_complete(work())

    def _close_loop(self) -> None:
        if self._loop is not None:
            self._loop.close()


# Set in a PassThread: what it runs computes there, in place.
_here = threading.local()


async def computed(work: Callable[..., T], *args: Any) -> T:
    """`work(*args)`, off the collector's event loop: in a thread of the loop's executor, or in
    place when called in a `PassThread`, which is off it already."""
    if getattr(_here, "computes_in_place", False):
        return work(*args)
    return await asyncio.to_thread(work, *args)

"""The collector's worker threads, named for the operating system too.

`top -H`, `ps -L` and `/proc/<pid>/task/*/comm` then show which part of the collector spends
the CPU (the event loop is the main thread; the store's writer and the deriver have names).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys
from concurrent.futures import ThreadPoolExecutor

_PR_SET_NAME = 15
# Linux keeps 15 bytes of a thread's name.
_NAME_BYTES = 15


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

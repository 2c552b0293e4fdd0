"""The collector's child processes (webhook workers, the deriver's): this interpreter running one
of the collector's modules, told what to do on a pipe to its standard input."""

from __future__ import annotations

import asyncio
import sys


async def start_module(module: str, *, stdout: int | None = None) -> asyncio.subprocess.Process:
    """`python -m module`, its standard input a pipe from this process (and its standard
    output too, with `stdout=asyncio.subprocess.PIPE`)."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        # -P: the package this process runs, not one in the directory it was started from.
        "-P",
        "-m",
        module,
        stdin=asyncio.subprocess.PIPE,
        stdout=stdout,
    )

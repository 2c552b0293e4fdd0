"""A pager for long output on a terminal, as git has one: `$PAGER`, else `less -FRX` (which
quits at once when the text fits the screen, keeps colors, and leaves the text on the screen).
Never when stdout is not a terminal, with `--no-pager`, or while following (`-w`)."""

from __future__ import annotations

import io
import subprocess
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace

from logistis.kubectl.terminal import Terminal

DEFAULT_PAGER = "less -FRX"
# A pager that only copies is no pager: the text is written straight out.
NOT_PAGERS = ("", "cat")
SHELL_NOT_FOUND = 127


def pager_command(environ: Mapping[str, str]) -> str | None:
    command = environ.get("PAGER", DEFAULT_PAGER).strip()
    return None if command in NOT_PAGERS else command


@contextmanager
def paged(terminal: Terminal, command: str | None) -> Iterator[Terminal]:
    """A terminal whose output is shown through `command` once the block ends (also when it
    fails: what was written before an error is still worth reading)."""
    if command is None or not terminal.out.isatty():
        yield terminal
        return
    buffer = io.StringIO()
    try:
        yield replace(terminal, out=buffer)
    finally:
        _show(buffer.getvalue(), command, terminal)


def _show(text: str, command: str, terminal: Terminal) -> None:
    if not text:
        return
    try:
        # Through the shell, as git and man run $PAGER: it may carry flags and quoting.
        ran = subprocess.run(command, shell=True, input=text, text=True, check=False)
    except OSError:
        ran = None
    if ran is None or ran.returncode == SHELL_NOT_FOUND:
        terminal.out.write(text)

"""What the collector can fail at, and the exit code each failure leaves to the shell.

Every collector exception derives from `CollectorError`, so `cli.py` catches one class and
prints one line: a failure the operator can fix (a flag, a file, a port, the cluster) is never a
traceback. Each says its own exit code; a few also derive from `ValueError` where their callers
catch them as one.
"""

from __future__ import annotations

from enum import IntEnum
from typing import ClassVar


class ExitCode(IntEnum):
    OK = 0
    ERROR = 1  # something to fix outside the command line: a file, the store, the cluster
    USAGE = 2  # argparse's own code for a bad flag; also a wrong setting or capture rule
    NOT_INSTALLED = 3  # the collector's dependencies (the `collector` extra) are missing
    INTERRUPTED = 130  # as shells report SIGINT


class CollectorError(Exception):
    """A failure reported as one line on stderr, exiting with `exit_code`."""

    exit_code: ClassVar[ExitCode] = ExitCode.ERROR


class UsageError(CollectorError):
    """A failure the command line (flags, environment, config file) caused and can fix."""

    exit_code: ClassVar[ExitCode] = ExitCode.USAGE

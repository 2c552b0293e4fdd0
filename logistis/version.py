"""The installed distribution's version, and the `--version` flag every command shares.

Read from the installed metadata when it is asked for, not on import: importing
`importlib.metadata` and finding the distribution cost ~35 ms in every process that imports
`logistis`, the collector's deriver and webhook workers and each `kubectl blame` included,
which nearly never print it.
"""

from __future__ import annotations

import argparse
import functools
import sys
from collections.abc import Sequence
from typing import Any


@functools.cache
def installed_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("logistis")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "0+unknown"


class _PrintVersion(argparse.Action):
    def __init__(self, option_strings: Sequence[str], dest: str, command: str, **kwargs: Any):
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)
        self.command = command

    def __call__(self, parser: argparse.ArgumentParser, *_: Any) -> None:
        sys.stdout.write(f"{self.command} {installed_version()}\n")
        parser.exit()


def add_version_flag(parser: argparse.ArgumentParser, command: str) -> None:
    """`COMMAND --version` prints `COMMAND 0.1.0` and exits 0, as kubectl plugins do."""
    parser.add_argument(
        "--version", action=_PrintVersion, command=command, help="print the version and exit"
    )

"""The installed distribution's version, and the `--version` flag every command shares."""

from __future__ import annotations

import argparse
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("logistis")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"


def add_version_flag(parser: argparse.ArgumentParser, command: str) -> None:
    """`COMMAND --version` prints `COMMAND 0.1.0` and exits 0, as kubectl plugins do."""
    parser.add_argument(
        "--version",
        action="version",
        version=f"{command} {__version__}",
        help="print the version and exit",
    )

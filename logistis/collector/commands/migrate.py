"""`logistis-collector migrate-store --from URL --to URL`: move a history to another store.

Typically from the embedded SQLite file to PostgreSQL, once, while no collector writes to
either. Prints progress on a terminal and, at the end, the counts of events and of collector
runs on both sides; exits 1 if they differ. Interrupted, it resumes where the destination stands.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from typing import TextIO

from logistis.collector.errors import ExitCode
from logistis.collector.settings import BriefParser, read_store_url
from logistis.collector.store import StoreURL, open_store
from logistis.collector.store.transfer import KEEP_EVERYTHING, Copied, copy_history


def build_parser() -> argparse.ArgumentParser:
    parser = BriefParser(
        prog="logistis-collector migrate-store",
        description=(
            "Copy the recorded history from one store to another (ids, times, users, objects "
            "and everything derived from them, and the collectors' heartbeats that tell the "
            "blind spots). Stop the collectors first. Run again after an interruption: it "
            "resumes where it stopped."
        ),
        epilog=(
            "example:\n"
            "  logistis-collector migrate-store --from sqlite:///data/logistis.db \\\n"
            "      --to-file /etc/logistis-db/uri\n"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    for side in ("from", "to"):
        group = parser.add_mutually_exclusive_group(required=True)
        group.add_argument(f"--{side}", metavar="URL", dest=side, help=f"the store to copy {side}")
        group.add_argument(
            f"--{side}-file", metavar="FILE", dest=f"{side}_file",
            help=f"read the --{side} URL from this file (keeps a password off the command line)",
        )  # fmt: skip
    return parser


def main(argv: Sequence[str]) -> int:
    args = build_parser().parse_args(argv)
    source = read_store_url(args.__dict__["from"], args.from_file, "--from")
    destination = read_store_url(args.to, args.to_file, "--to")
    copied = asyncio.run(migrate(source, destination, sys.stderr))
    print(
        f"copied {copied.copied:,} events; up to id {copied.last_id}: "
        f"source {copied.source:,}, destination {copied.destination:,}"
        + _verdict(copied.source == copied.destination)
    )
    print(
        f"copied {copied.runs_copied:,} collector runs (heartbeats): "
        f"source {copied.runs_source:,}, destination {copied.runs_destination:,}"
        + _verdict(copied.runs_source == copied.runs_destination)
    )
    return ExitCode.OK if copied.matches else ExitCode.ERROR


def _verdict(same: bool) -> str:
    return " (match)" if same else " (DIFFERENT)"


async def migrate(source: StoreURL, destination: StoreURL, terminal: TextIO) -> Copied:
    show = terminal.isatty()

    def progress(done: int, total: int) -> None:
        if show:
            terminal.write(f"\rcopying: {done:,} / {total:,} events")
            terminal.flush()

    async with (
        open_store(source, max_events_per_resource=KEEP_EVERYTHING) as src,
        open_store(destination, max_events_per_resource=KEEP_EVERYTHING) as dst,
    ):
        copied = await copy_history(src, dst, progress)
    if show:
        terminal.write("\n")
    return copied

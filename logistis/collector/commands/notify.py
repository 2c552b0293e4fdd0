"""`logistis-collector notify`: try the notify section without waiting for a change.

    logistis-collector notify test --config F --event ID   what each rule would send, unsent
    logistis-collector notify send-test --config F --sink NAME   a test message, sent

Both take the collector's own flags and environment (`--data-dir`, `LOGISTIS_STORE`, ...), so
they read the store and the config the collector reads. Exit codes: 0 done, 1 the event is not
found or the sink did not take the message, 2 a wrong flag or config.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TextIO

import aiohttp

from logistis.collector.errors import CollectorError, ExitCode
from logistis.collector.history import reading
from logistis.collector.history.events import Event, ResourceRef, UserInfo
from logistis.collector.pipeline.notify.config import NotifySettings
from logistis.collector.pipeline.notify.delivery import post
from logistis.collector.pipeline.notify.matching import facts_of, matches
from logistis.collector.pipeline.notify.message import Message
from logistis.collector.pipeline.notify.outbox import render
from logistis.collector.settings import Settings, SettingsError, from_args
from logistis.collector.store import open_store

TEST_NAME = "logistis-notify-test"


class NotifyTestError(CollectorError):
    """The event to try is not recorded, or the sink did not take the test message."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="logistis-collector notify",
        description="Try the config file's notify section. Other flags are the collector's.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    test = commands.add_parser("test", help="show what each rule would send for a recorded event")
    test.add_argument("--event", type=int, required=True, metavar="ID")
    send = commands.add_parser("send-test", help="send a test message to a sink")
    send.add_argument("--sink", required=True, metavar="NAME")
    return parser


def main(argv: Sequence[str], out: TextIO = sys.stdout) -> int:
    args, rest = build_parser().parse_known_args(argv)
    settings = from_args(rest)
    if args.command == "test":
        return asyncio.run(_test(settings, args.event, out))
    return asyncio.run(_send_test(settings.notify, args.sink, out))


async def _test(settings: Settings, event_id: int, out: TextIO) -> int:
    async with open_store(settings.store, gitops=settings.gitops) as store:
        event = await reading.one(store, event_id)
    if event is None:
        raise NotifyTestError(f"no event {event_id}")
    notify = settings.notify
    facts = facts_of(event)
    for rule in notify.rules:
        if not matches(rule, facts):
            print(f"rule {rule.name}: no match", file=out)
            continue
        for name in rule.sinks:
            sink = notify.sinks[name]
            request = render(Message(name, rule.name, [event], notify.event_url), sink)
            print(f"rule {rule.name} -> sink {name} ({sink.type}) {sink.url}", file=out)
            for header, value in request.headers.items():
                print(f"  {header}: {value}", file=out)
            print("  " + request.body.decode(errors="replace"), file=out)
    return ExitCode.OK


async def _send_test(notify: NotifySettings, name: str, out: TextIO) -> int:
    sink = notify.sinks.get(name)
    if sink is None:
        known = ", ".join(notify.sinks) or "none"
        raise SettingsError(f"no sink named {name!r} (sinks: {known})")
    message = Message(name, "test", [sample_event()], notify.event_url)
    async with aiohttp.ClientSession() as session:
        outcome = await post(session, sink.url, render(message, sink), notify.delivery.timeout)
    if not outcome.sent:
        raise NotifyTestError(f"sink {name}: {outcome.detail}")
    print(f"sink {name} ({sink.type}) took the test message", file=out)
    return ExitCode.OK


def sample_event() -> Event:
    """A change that never happened, named as a test wherever a message shows it."""
    return Event(
        uid=str(uuid.uuid4()),
        time=datetime.now(UTC),
        operation="UPDATE",
        dry_run=False,
        user=UserInfo(TEST_NAME),
        resource=ResourceRef("", "v1", "ConfigMap", "configmaps"),
        namespace="default",
        name=TEST_NAME,
        field_manager=TEST_NAME,
        object={"data": {"test": "after"}},
        old_object={"data": {"test": "before"}},
        options=None,
        changes=[{"op": "replace", "path": "/data/test"}],
    )

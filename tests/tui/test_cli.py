"""The `logistis-tui` command: flags, help, and the command palette."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from logistis.client.events import EventFilter
from logistis.client.portforward import DEFAULT_NAMESPACE
from logistis.tui.app import ConnectionSettings, LogistisApp
from logistis.tui.cli import parser, settings
from logistis.tui.widgets.event_table import EventTable
from tests.support.collector import CollectorProcess
from tests.tui.conftest import wait_until

TUI = Path(sys.executable).with_name("logistis-tui")


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(TUI), *args], capture_output=True, text=True, timeout=30)


def test_help_lists_flags_and_examples() -> None:
    result = run("--help")
    assert result.returncode == 0
    for text in ("--url", "--context", "--kubeconfig", "--namespace", "-A", "--all", "examples:"):
        assert text in result.stdout


def test_a_bad_flag_is_one_line_and_status_2() -> None:
    result = run("--operation", "explode")
    assert result.returncode == 2
    assert "invalid choice: 'EXPLODE'" in result.stderr
    assert "Traceback" not in result.stderr


async def test_every_key_action_is_in_the_command_palette(fed_collector: CollectorProcess) -> None:
    app = LogistisApp(ConnectionSettings(url=fed_collector.api_url))
    async with app.run_test(size=(140, 30)) as pilot:
        table = app.browse.query_one(EventTable)
        await wait_until(pilot, lambda: bool(table.events))
        titles = {command.title for command in app.get_system_commands(app.screen)}
        assert {"People/all", "Follow/pause", "Only user", "Clear", "Help", "Quit"} <= titles
        [people] = [c for c in app.get_system_commands(app.screen) if c.title == "People/all"]
        await people.callback()  # type: ignore[misc]
        await wait_until(pilot, lambda: app.browse.filter.people is None)


def given(*args: str) -> tuple[ConnectionSettings, EventFilter]:
    return settings(parser().parse_args(args))


def test_namespaces_as_kubectl_takes_them(capsys: pytest.CaptureFixture[str]) -> None:
    connection, initial = given("-n", "team-a")
    assert (initial.namespace, connection.namespace) == ("team-a", DEFAULT_NAMESPACE)
    assert given("--namespace", "team-b")[1].namespace == "team-b"
    assert given("-A")[1].namespace is None
    assert given("--collector-namespace", "audit")[0].namespace == "audit"
    assert capsys.readouterr().err == ""
    # The old flag for the namespace to look at still works, and says what replaced it.
    assert given("--in", "team-a")[1].namespace == "team-a"
    assert "--in is now -n/--namespace" in capsys.readouterr().err


def test_a_namespace_and_all_namespaces_are_one_or_the_other() -> None:
    result = run("-n", "team-a", "-A")
    assert result.returncode == 2
    assert "not allowed with argument" in result.stderr

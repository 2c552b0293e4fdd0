"""The application: it holds the connection and the main screen, and little else."""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from platformdirs import user_downloads_path
from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.dom import DOMNode
from textual.message import Message
from textual.screen import Screen
from textual.worker import Worker, WorkerCancelled, WorkerFailed

from logistis.backoff import Backoff
from logistis.client.connect import Via, connect
from logistis.client.events import EventFilter
from logistis.client.live import LinkState, LinkStatus
from logistis.client.portforward import DEFAULT_NAMESPACE, PortForwardError
from logistis.client.protocol import CollectorError
from logistis.tui.failures import report_worker_failure
from logistis.tui.format import Clock, system_clock
from logistis.tui.messages import Connected
from logistis.tui.screens.base import WorkingScreen
from logistis.tui.screens.browse import BrowseScreen
from logistis.tui.screens.diff import DiffScreen
from logistis.tui.screens.help import HelpScreen, KeyGroup
from logistis.tui.screens.insights import InsightsScreen

EXIT_NOT_CONNECTED = 3
# The screens whose keys help lists, the one it is opened from first.
HELP_SCREENS: tuple[type[WorkingScreen[Any]], ...] = (BrowseScreen, DiffScreen, InsightsScreen)


@dataclass(frozen=True, slots=True)
class ConnectionSettings:
    """Where the collector is: `url` directly, else a port-forward through kubectl."""

    url: str | None = None
    context: str | None = None
    kubeconfig: str | None = None
    namespace: str = DEFAULT_NAMESPACE
    kubectl: str = "kubectl"
    via: Via = Via.AUTO


class ConnectionFailed(Message):
    """The collector could not be reached; the next try is `retry_in` seconds away."""

    def __init__(self, reason: str, retry_in: float) -> None:
        super().__init__()
        self.reason, self.retry_in = reason, retry_in


class LogistisApp(App[None]):
    CSS_PATH = "logistis.tcss"
    TITLE = "logistis"
    SUB_TITLE = "who changed what in the cluster"
    BINDINGS = [
        Binding("q", "quit", "Quit"),
        Binding("question_mark", "help", "Help"),
        Binding("f1", "help", "Help", show=False),
        Binding("R", "reconnect", "Try now"),
    ]

    def __init__(
        self,
        connection: ConnectionSettings,
        initial: EventFilter | None = None,
        *,
        clock: Clock = system_clock,
        backoff: Callable[[], Backoff] = Backoff,
    ) -> None:
        super().__init__()
        self.connection = connection
        # The delays between tries to connect (a test holds them still).
        self.backoff = backoff
        self.failure: str | None = None
        self._connection: Worker[None] | None = None
        self.browse = BrowseScreen(initial or EventFilter(people=True), clock=clock)

    def on_mount(self) -> None:
        self.push_screen(self.browse)
        self._connection = self.hold_connection()

    def on_ready(self) -> None:
        # What exists once the first screen is drawn (modules, styles, the main screen) lives
        # as long as the app. Frozen, it is no longer walked by every full collection: ~50 ms
        # each, and one came in the middle of drawing nearly every large diff.
        gc.freeze()

    async def on_unmount(self) -> None:
        # On exit Textual cancels workers without waiting for them; waiting here lets the
        # connection close, so a kubectl port-forward never outlives the app.
        if self._connection is not None:
            with contextlib.suppress(WorkerCancelled, WorkerFailed):
                await self._connection.wait()
        gc.unfreeze()  # an app run in a longer process (the tests) leaves it collectable

    @work(exclusive=True, group="connection", exit_on_error=False, description="connecting")
    async def hold_connection(self) -> None:
        """Open the connection, keep it for the app's life, close it when the app ends. Until
        the collector answers, try again with the live stream's backoff: an app started
        before its collector (or its port-forward's pod) connects by itself."""
        backoff = self.backoff()
        while True:
            try:
                await self._connected()
            except (PortForwardError, CollectorError) as error:
                delay = backoff.next()
                self.post_message(ConnectionFailed(str(error), delay))
                await asyncio.sleep(delay)

    async def _connected(self) -> None:
        settings = self.connection
        async with connect(
            settings.url,
            context=settings.context,
            kubeconfig=settings.kubeconfig,
            namespace=settings.namespace,
            kubectl=settings.kubectl,
            via=settings.via,
        ) as client:
            await client.namespaces()  # does the collector answer at all?
            self.post_message(Connected(client, await client.home_namespace()))
            await asyncio.Event().wait()  # until the app ends and cancels this worker

    def on_connected(self, message: Connected) -> None:
        if not self.is_running:
            return  # posted as the app stopped: its screens are gone
        self.failure = None
        self.refresh_bindings()
        self.browse.attach(message.client, message.home_namespace)

    def on_connection_failed(self, message: ConnectionFailed) -> None:
        if not self.is_running:
            return  # posted as the app stopped: its screens are gone
        # The status line says it, and when the next try is: no toast at every try.
        self.failure = message.reason
        self.refresh_bindings()
        self.browse.link = LinkStatus(LinkState.FAILED, message.reason, message.retry_in)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # "Try now" is in the footer only while the collector cannot be reached.
        return self.failure is not None if action == "reconnect" else True

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        report_worker_failure(self, event.worker)

    async def action_quit(self) -> None:
        if self.failure:
            self.exit(return_code=EXIT_NOT_CONNECTED, message=f"logistis-tui: {self.failure}")
        else:
            self.exit()

    def action_reconnect(self) -> None:
        self.browse.link = LinkStatus(LinkState.CONNECTING)
        self._connection = self.hold_connection()

    def deliver_screenshot(
        self, filename: str | None = None, path: str | None = None, time_format: str | None = None
    ) -> str | None:
        # Textual saves into ~/Downloads, and fails where there is none (servers, containers):
        # the working directory then. The palette's Screenshot and the action both come here.
        if path is None and not user_downloads_path().is_dir():
            path = str(Path.cwd())
        return super().deliver_screenshot(filename, path, time_format)

    def action_help(self) -> None:
        screen = self.screen
        if isinstance(screen, HelpScreen):
            return
        ordered = sorted(HELP_SCREENS, key=lambda kind: not isinstance(screen, kind))
        palette = Binding(self.COMMAND_PALETTE_BINDING, "command_palette", "Command palette")
        # The focused widget's own keys (moving in the table or the input), after the app's.
        widget = [
            a.binding for a in screen.active_bindings.values() if a.node not in (screen, self)
        ]
        groups = [
            *(KeyGroup.of(kind.HELP_TITLE, kind.BINDINGS, self) for kind in ordered),
            KeyGroup.of("Everywhere", [*self.BINDINGS, palette], self),
            KeyGroup.of("Moving around", widget, self),
        ]
        self.push_screen(HelpScreen(groups))

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        """Every action bound to a key on the current screen, also in the command palette."""
        yield from super().get_system_commands(screen)
        seen: set[str] = set()
        for active in screen.active_bindings.values():
            binding = active.binding
            if binding.description and binding.action not in seen:
                seen.add(binding.action)
                yield SystemCommand(
                    binding.description,
                    binding.tooltip or f"key: {self.get_key_display(binding)}",
                    _runner(active.node, binding.action),
                )


def _runner(node: DOMNode, action: str) -> Callable[[], Awaitable[None]]:
    async def run() -> None:
        # What Widget.run_action does, for any node: the app runs it in the node's namespace.
        await node.app.run_action(action, node)

    return run

"""Every key of every screen, pressed as an operator would: the app stays up, and the screen
changes as the key's binding says.

A binding added to a screen without an entry in EXPECTED here fails the test: each key's
effect is written down once.
"""

from __future__ import annotations

from collections.abc import Callable

from textual.binding import Binding
from textual.command import CommandPalette
from textual.pilot import Pilot
from textual.screen import Screen

from logistis.client.events import EventFilter
from logistis.tui.app import LogistisApp
from logistis.tui.screens.browse import BrowseScreen
from logistis.tui.screens.diff import DiffScreen
from logistis.tui.screens.help import HelpScreen
from logistis.tui.screens.insights import InsightsScreen
from logistis.tui.widgets.event_table import EventTable
from tests.support.collector import CollectorProcess
from tests.tui.conftest import wait_until
from tests.tui.test_app import SIZE, app_for, loaded, table

# What each action leaves on screen: the screen on top, and what else must hold after it.
Check = Callable[[LogistisApp], bool]
EXPECTED: dict[str, tuple[type[Screen[object]], Check]] = {
    "open_diff": (DiffScreen, lambda app: True),
    "edit_filter": (
        BrowseScreen,
        lambda app: app.focused is not None and app.focused.id == "filter-input",
    ),
    "focus_events": (BrowseScreen, lambda app: app.focused is table(app)),
    "toggle_people": (BrowseScreen, lambda app: app.browse.filter.people is None),
    "toggle_follow": (BrowseScreen, lambda app: not app.browse.following),
    "show_new": (BrowseScreen, lambda app: table(app).cursor_row == 0),
    "only('user')": (BrowseScreen, lambda app: app.browse.filter.user is not None),
    "only('kind')": (BrowseScreen, lambda app: app.browse.filter.kind is not None),
    "only('namespace')": (BrowseScreen, lambda app: app.browse.filter.namespace is not None),
    "only('operation')": (BrowseScreen, lambda app: app.browse.filter.operation is not None),
    "history": (BrowseScreen, lambda app: app.browse.filter.name is not None),
    "insights": (InsightsScreen, lambda app: True),
    "toggle_hand_edits": (BrowseScreen, lambda app: app.browse.filter.hand_edit is True),
    # The fixtures hold no hand edit: it says so, and the list stays.
    "put_back": (BrowseScreen, lambda app: True),
    "clear_filters": (BrowseScreen, lambda app: not app.browse.filter.active()),
    "toggle_time": (BrowseScreen, lambda app: table(app).absolute_time),
    "toggle_tree": (BrowseScreen, lambda app: app.browse.has_class("-no-tree")),
    "reload": (BrowseScreen, lambda app: True),
    "cursor_down": (BrowseScreen, lambda app: table(app).cursor_row == 1),
    "cursor_up": (BrowseScreen, lambda app: table(app).cursor_row == 0),
    "sort_next": (BrowseScreen, lambda app: table(app).ordering == ("time", False)),
    "help": (HelpScreen, lambda app: True),
    "reconnect": (BrowseScreen, lambda app: True),
    "quit": (BrowseScreen, lambda app: True),  # pressed last, on its own
    "app.pop_screen": (BrowseScreen, lambda app: True),
    "toggle_noise": (DiffScreen, lambda app: getattr(app.screen, "show_noise", False)),
    "tab('diff')": (DiffScreen, lambda app: _tab(app) == "diff"),
    "tab('patch')": (DiffScreen, lambda app: _tab(app) == "patch"),
    "tab('object')": (DiffScreen, lambda app: _tab(app) == "object"),
    "tab('blame')": (DiffScreen, lambda app: _tab(app) == "blame"),
    "dismiss": (BrowseScreen, lambda app: True),
}


def _tab(app: LogistisApp) -> str:
    return str(app.screen.query_one("TabbedContent").active)  # type: ignore[attr-defined]


def _is(app: LogistisApp, screen: Screen[object]) -> Callable[[], bool]:
    return lambda: app.screen is screen


def keys(*owners: object) -> list[Binding]:
    return [b for owner in owners for b in Binding.make_bindings(owner.BINDINGS)]  # type: ignore[attr-defined]


async def fresh(pilot: Pilot[None], app: LogistisApp) -> None:
    """Back to the main screen, unfiltered, following, cursor on the first row."""
    while not isinstance(app.screen, BrowseScreen):
        app.pop_screen()
        await pilot.pause()
    if app.browse.filter != EventFilter(people=True):
        app.browse.filter = EventFilter(people=True)
    app.browse.following = True
    app.browse.tree_wanted = None
    table(app).ordering = None
    table(app).absolute_time = False
    table(app).focus()
    await wait_until(pilot, lambda: loaded(app) and app.browse.filter == EventFilter(people=True))
    table(app).move_cursor(row=0)
    await pilot.pause()


async def press(pilot: Pilot[None], app: LogistisApp, binding: Binding) -> None:
    assert binding.action in EXPECTED, f"{binding.key}: {binding.action} has no expected effect"
    screen, check = EXPECTED[binding.action]
    await pilot.press(binding.key)
    await wait_until(pilot, lambda: isinstance(app.screen, screen) and check(app), within=5)
    assert app.is_running, f"{binding.key} ended the app"


async def test_every_key_of_the_main_screen(fed_collector: CollectorProcess) -> None:
    app = app_for(fed_collector.api_url)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: loaded(app))
        for binding in keys(BrowseScreen, EventTable, LogistisApp):
            if binding.action == "quit":
                continue
            await fresh(pilot, app)
            if binding.action == "cursor_up":
                table(app).move_cursor(row=1)
            await press(pilot, app, binding)
        await fresh(pilot, app)
        await pilot.press("q")
    assert app.return_code == 0


async def test_every_key_of_the_diff_screen(fed_collector: CollectorProcess) -> None:
    app = app_for(fed_collector.api_url)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: loaded(app))
        for binding in keys(DiffScreen):
            await fresh(pilot, app)
            await pilot.press("enter")
            await wait_until(pilot, lambda: isinstance(app.screen, DiffScreen))
            await press(pilot, app, binding)
        await fresh(pilot, app)
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, DiffScreen))
        await pilot.press("f1")  # help on top of a diff lists the diff's keys first
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen))
        assert app.screen.groups[0].title == DiffScreen.HELP_TITLE  # type: ignore[attr-defined]


async def test_help_opens_and_closes_with_each_of_its_keys(fed_collector: CollectorProcess) -> None:
    app = app_for(fed_collector.api_url)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: loaded(app))
        for opener in ("question_mark", "f1"):
            for binding in keys(HelpScreen):
                await fresh(pilot, app)
                await pilot.press(opener)
                await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen))
                help_screen = app.screen
                assert isinstance(help_screen, HelpScreen)
                assert help_screen.groups[0].title == BrowseScreen.HELP_TITLE
                assert ("K", "Only kind") in help_screen.groups[0].rows
                back_in_help = _is(app, help_screen)
                # The keys that used to end the app after help was opened.
                await pilot.press("pagedown", "ctrl+p")
                await wait_until(pilot, lambda: isinstance(app.screen, CommandPalette))
                await pilot.press("escape")
                await wait_until(pilot, back_in_help)
                await press(pilot, app, binding)
                assert app.is_running


async def test_the_command_palette_opens_and_closes(fed_collector: CollectorProcess) -> None:
    app = app_for(fed_collector.api_url)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: loaded(app))
        await pilot.press("ctrl+p")
        await wait_until(pilot, lambda: isinstance(app.screen, CommandPalette))
        await pilot.press(*"help", "enter")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen))
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, BrowseScreen))
        assert app.is_running

"""The real app, driven with the pilot, against a real collector on loopback."""

from __future__ import annotations

import asyncio
import gc
import os
import re
import signal
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets.tree import TreeNode

from logistis.client.events import EventFilter
from logistis.client.live import LinkState
from logistis.tui.app import (
    EXIT_NOT_CONNECTED,
    ConnectionFailed,
    ConnectionSettings,
    LogistisApp,
)
from logistis.tui.screens.diff import DiffScreen
from logistis.tui.widgets.event_table import EventTable
from logistis.tui.widgets.key_footer import FooterKey, KeyFooter
from logistis.tui.widgets.namespace_tree import NamespaceTree, Place
from logistis.tui.widgets.status_bar import StatusBar
from tests.support.collector import CollectorProcess, free_port, post_reviews
from tests.support.fixtures import bodies, load
from tests.tui.conftest import FakeKubectl, wait_until

SIZE = (160, 40)


def app_for(url: str | None, initial: EventFilter | None = None) -> LogistisApp:
    return LogistisApp(ConnectionSettings(url=url), initial)


def table(app: LogistisApp) -> EventTable:
    return app.browse.query_one(EventTable)


def status(app: LogistisApp) -> StatusBar:
    return app.browse.query_one(StatusBar)


def namespace_node(tree: NamespaceTree, namespace: str) -> TreeNode[Place]:
    [node] = [n for n in tree.root.children if n.data and n.data.namespace == namespace]
    return node


async def tree_shown(pilot: Pilot[None], app: LogistisApp) -> NamespaceTree:
    """The namespace tree, once the first rows and the namespaces are in."""
    tree = app.browse.query_one(NamespaceTree)
    await wait_until(pilot, lambda: loaded(app) and len(tree.root.children) > 3)
    return tree


def loaded(app: LogistisApp) -> bool:
    return bool(table(app).events) and status(app).link.state == LinkState.LIVE


async def test_people_first_and_everything(fed_collector: CollectorProcess) -> None:
    app = app_for(fed_collector.api_url)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: loaded(app) and status(app).hidden is not None)
        people = table(app).events
        assert people
        assert not any(e.user.is_machine for e in people)
        assert status(app).hidden == 183
        assert "183 machine events hidden" in str(status(app).render())
        await pilot.press("p")
        await wait_until(pilot, lambda: any(e.user.is_machine for e in table(app).events))
        assert "everything" in str(status(app).render())
        assert len(table(app).events) == 100  # one page, not the whole history


async def test_select_a_namespace_then_filter_by_user_and_kind(
    fed_collector: CollectorProcess,
) -> None:
    app = app_for(fed_collector.api_url)
    async with app.run_test(size=SIZE) as pilot:
        tree = await tree_shown(pilot, app)
        team_b = namespace_node(tree, "team-b")
        tree.select_node(team_b)
        await wait_until(pilot, lambda: app.browse.filter.namespace == "team-b")
        await wait_until(pilot, lambda: all(e.namespace == "team-b" for e in table(app).events))
        assert {e.user.username for e in table(app).events} == {"bob"}

        wanted = EventFilter(namespace="team-a", user="alice", kind="Deployment", people=True)
        await pilot.press("x", "slash", *"ns:team-a user:alice kind:Deployment", "enter")
        await wait_until(pilot, lambda: app.browse.filter == wanted)
        await wait_until(
            pilot,
            lambda: (
                {(e.user.username, e.kind) for e in table(app).events} == {("alice", "Deployment")}
            ),
        )
        assert all(e.namespace == "team-a" for e in table(app).events)

        await pilot.press("x")
        await wait_until(pilot, lambda: app.browse.filter == EventFilter(people=True))
        assert app.browse.query_one("#filter-input").value == ""


async def test_only_this_user_from_the_selected_row(fed_collector: CollectorProcess) -> None:
    app = app_for(fed_collector.api_url)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: loaded(app))
        row = next(i for i, e in enumerate(table(app).events) if e.user.username == "bob")
        table(app).move_cursor(row=row)
        await pilot.press("u")
        await wait_until(pilot, lambda: app.browse.filter.user == "bob")
        await wait_until(pilot, lambda: {e.user.username for e in table(app).events} == {"bob"})


def footer_settled(footer: KeyFooter) -> bool:
    """The footer's widgets show the keys the screen binds now, each once."""
    keys, mounted = footer.keys(), [widget.key for widget in footer.query(FooterKey)]
    return footer.drawn == keys and len(mounted) == len(keys) and set(mounted) == set(keys)


async def test_the_footer_is_rebuilt_only_when_its_keys_change(
    fed_collector: CollectorProcess,
) -> None:
    app = app_for(fed_collector.api_url)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: loaded(app))
        footer = app.browse.query_one(KeyFooter)
        # Settled: the key widgets mounted are the screen's keys now. The first draw may come
        # before the screen's focus and be rebuilt once; while it is, `drawn` already holds the
        # new keys and the old widgets are still mounted, so the widgets themselves are asked.
        await wait_until(pilot, lambda: footer_settled(footer))
        keys = list(footer.query("FooterKey"))
        app.browse.refresh_bindings()
        await pilot.pause()
        assert list(footer.query("FooterKey")) == keys  # the same widgets, not new ones

        await pilot.press("slash")  # the filter input's bindings join the screen's
        await wait_until(pilot, lambda: footer.query("FooterKey").first() not in keys)


async def test_at_80_by_24_the_footer_still_shows_help(fed_collector: CollectorProcess) -> None:
    """The main screen has more keys than 80 columns hold: its own give way, `? Help` stays."""
    app = app_for(fed_collector.api_url)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: loaded(app))
        await pilot.pause()
        footer = app.browse.query_one(KeyFooter)
        (help_key,) = [key for key in footer.query(FooterKey) if key.description == "Help"]
        assert help_key.region.width == len(" ? Help ")
        assert help_key.region.right <= 80
        assert app.screen.get_widget_at(help_key.region.x, 23)[0] is help_key
        assert app.screen.get_widget_at(help_key.region.right - 1, 23)[0] is help_key
        # The keys that give way go whole: each key shown is shown entire.
        for key in footer.query(FooterKey):
            assert not key.display or key.content_size.width == key.cells


async def test_the_footer_is_drawn_with_its_screen(fed_collector: CollectorProcess) -> None:
    app = app_for(fed_collector.api_url)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: loaded(app))
        assert app.browse.client is not None
        screen = DiffScreen(table(app).events[0], app.browse.client, app.browse.clock)
        await app.push_screen(screen)  # mounted, not yet laid out or focused
        keys = list(screen.query_one(KeyFooter).query(FooterKey))
        assert [key.description for key in keys] == [
            "Back",
            "Noise",
            "Diff",
            "Patch",
            "Object",
            "Blame",
            "Help",
            "palette",
        ]
        await pilot.pause()
        assert list(screen.query_one(KeyFooter).query(FooterKey)) == keys  # not rebuilt


async def test_what_exists_once_the_app_is_up_is_left_out_of_full_collections(
    fed_collector: CollectorProcess,
) -> None:
    app = app_for(fed_collector.api_url)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: loaded(app))
        assert gc.get_freeze_count() > 10_000  # modules, styles, the main screen's widgets
        await pilot.press("q")
    assert gc.get_freeze_count() == 0  # collectable again once the app has ended


async def test_live_events_arrive_and_are_counted_when_scrolled_away(tmp_path: Path) -> None:
    with CollectorProcess(tmp_path / "data") as collector:
        post_reviews(collector, bodies()[:150])
        app = app_for(collector.api_url)
        async with app.run_test(size=SIZE) as pilot:
            await wait_until(pilot, lambda: loaded(app))
            before = len(table(app).events)
            # bob creates a ConfigMap while we watch
            await asyncio.to_thread(post_reviews, collector, [load(143)["body"]])
            await wait_until(pilot, lambda: len(table(app).events) == before + 1)
            newest = table(app).events[0]
            assert (newest.user.username, newest.name, newest.operation) == (
                "bob", "app-config", "CREATE"
            )  # fmt: skip

            table(app).move_cursor(row=5)
            await asyncio.to_thread(post_reviews, collector, [load(144)["body"]])
            await wait_until(pilot, lambda: status(app).new == 1)
            assert table(app).events[0].id == newest.id  # not forced into view
            assert "1 new" in str(status(app).render())
            await pilot.press("g")
            assert table(app).events[0].operation == "UPDATE"
            assert table(app).cursor_row == 0
            ids = [e.id for e in table(app).events]
            assert len(ids) == len(set(ids)) == before + 2


async def test_pausing_holds_new_events_back(tmp_path: Path) -> None:
    with CollectorProcess(tmp_path / "data") as collector:
        post_reviews(collector, bodies()[:60])
        app = app_for(collector.api_url)
        async with app.run_test(size=SIZE) as pilot:
            await wait_until(pilot, lambda: loaded(app))
            before = len(table(app).events)
            await pilot.press("f")
            assert "paused" in str(status(app).render())
            await asyncio.to_thread(post_reviews, collector, [load(143)["body"]])
            await wait_until(pilot, lambda: status(app).new == 1)
            assert len(table(app).events) == before
            await pilot.press("f")
            assert len(table(app).events) == before + 1


async def test_survives_a_collector_restart(tmp_path: Path) -> None:
    collector = CollectorProcess(tmp_path / "data")
    try:
        collector.start()
        post_reviews(collector, bodies()[:100])
        app = app_for(collector.api_url)
        async with app.run_test(size=SIZE) as pilot:
            await wait_until(pilot, lambda: loaded(app))
            before = len(table(app).events)
            await asyncio.to_thread(collector.stop)
            await wait_until(pilot, lambda: status(app).link.state == LinkState.RECONNECTING)
            assert "reconnecting" in str(status(app).render())
            await asyncio.to_thread(collector.start)
            await asyncio.to_thread(post_reviews, collector, [load(143)["body"], load(144)["body"]])
            await wait_until(pilot, lambda: len(table(app).events) == before + 2, within=20)
            assert status(app).link.state == LinkState.LIVE
            ids = [e.id for e in table(app).events]
            assert len(ids) == len(set(ids))
            assert ids == sorted(ids, reverse=True)
    finally:
        collector.stop()


async def test_no_collector_is_a_clear_failure_and_an_exit_code() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    app = app_for(url)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: status(app).link.state == LinkState.FAILED)
        line = str(status(app).render())
        assert f"cannot reach the collector at {url}" in line
        assert re.search(r"failed, next try in [0-9.]+s \(R: now\): cannot", line)
        await wait_until(pilot, lambda: "Try now" in footer_keys(app))
        await pilot.press("q")
    assert app.return_code == EXIT_NOT_CONNECTED


async def test_a_connection_message_after_the_app_stopped_is_ignored() -> None:
    """The connection's worker may post as the app stops: its screens are gone by then."""
    app = app_for(f"http://127.0.0.1:{free_port()}")
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: status(app).link.state == LinkState.FAILED)
        await pilot.press("q")
    failure, link = app.failure, app.browse.link
    app.on_connection_failed(ConnectionFailed("too late", 1.0))
    assert (app.failure, app.browse.link) == (failure, link)


def footer_keys(app: LogistisApp) -> list[str]:
    return [key.description for key in app.browse.query_one(KeyFooter).query(FooterKey)]


async def test_started_before_its_collector_it_connects_by_itself(tmp_path: Path) -> None:
    collector = CollectorProcess(tmp_path / "data")
    app = app_for(collector.api_url)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await wait_until(pilot, lambda: status(app).link.retry_in >= 1)  # tried a few times
            assert status(app).link.state == LinkState.FAILED
            await asyncio.to_thread(collector.start)
            await asyncio.to_thread(post_reviews, collector, bodies()[:60])
            # The app's next try may be the backoff's cap (8 s) away by now, and on a loaded
            # machine the start and the posts took seconds of their own (20 s was once short).
            await wait_until(pilot, lambda: loaded(app), within=45)
            await wait_until(pilot, lambda: "Try now" not in footer_keys(app))
            await pilot.press("q")
        assert app.return_code == 0
    finally:
        collector.stop()


async def test_port_forward_refused_by_rbac_is_shown(fake_kubectl: FakeKubectl) -> None:
    fake_kubectl.fail("forbidden")
    app = app_for(None)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: status(app).link.state == LinkState.FAILED)
        assert 'cannot create resource "pods/portforward"' in str(status(app).render())
        await pilot.press("q")
    assert app.return_code == EXIT_NOT_CONNECTED


async def test_through_a_port_forward(
    fake_kubectl: FakeKubectl, fed_collector: CollectorProcess
) -> None:
    fake_kubectl.serve(fed_collector.api_url)
    app = app_for(None)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: loaded(app))
        [run] = fake_kubectl.runs()
    assert run["args"][:3] == ["port-forward", "--namespace", "logistis"]
    with pytest.raises(ProcessLookupError):  # kubectl ended with the app
        os.kill(int(str(run["pid"])), 0)


async def test_a_kind_opens_onto_its_objects(fed_collector: CollectorProcess) -> None:
    app = app_for(fed_collector.api_url)
    async with app.run_test(size=SIZE) as pilot:
        tree = await tree_shown(pilot, app)
        team_a = namespace_node(tree, "team-a")
        team_a.expand()
        [deployments] = [
            n
            for n in team_a.children
            if n.data and n.data.kind and n.data.kind.kind == "Deployment"
        ]
        deployments.expand()
        await wait_until(pilot, lambda: bool(deployments.children))
        names = {n.data.name for n in deployments.children if n.data}
        assert names == {"nginx", "web", "api"}
        [nginx] = [n for n in deployments.children if n.data and n.data.name == "nginx"]
        tree.select_node(nginx)
        wanted = EventFilter(
            namespace="team-a", kind="Deployment", group="apps", name="nginx", people=True
        )
        await wait_until(pilot, lambda: app.browse.filter == wanted)
        await wait_until(pilot, lambda: {e.name for e in table(app).events} == {"nginx"})


async def test_counts_update_in_place_when_events_arrive(tmp_path: Path) -> None:
    with CollectorProcess(tmp_path / "data") as collector:
        post_reviews(collector, bodies()[:150])
        app = app_for(collector.api_url)
        async with app.run_test(size=SIZE) as pilot:
            tree = await tree_shown(pilot, app)
            team_b = namespace_node(tree, "team-b")
            before = str(team_b.label)
            await asyncio.to_thread(post_reviews, collector, [load(143)["body"]])
            await wait_until(pilot, lambda: str(team_b.label) != before)
            assert team_b in tree.root.children  # the same node, relabelled
            assert "bob" in str(team_b.label)


async def test_a_dropped_port_forward_is_reopened_when_it_can_be(
    fake_kubectl: FakeKubectl, tmp_path: Path
) -> None:
    with CollectorProcess(tmp_path / "data") as collector:
        post_reviews(collector, bodies()[:100])
        fake_kubectl.serve(collector.api_url)
        app = app_for(None)
        async with app.run_test(size=SIZE) as pilot:
            await wait_until(pilot, lambda: loaded(app))
            before = len(table(app).events)
            [first] = fake_kubectl.runs()
            # The pod restarts: for a while kubectl cannot forward to it.
            fake_kubectl.fail("pending")
            os.kill(int(str(first["pid"])), signal.SIGKILL)
            await wait_until(pilot, lambda: len(fake_kubectl.runs()) >= 3, within=20)
            assert status(app).link.state == LinkState.RECONNECTING
            assert "pod is not running" in str(status(app).render())
            fake_kubectl.serve(collector.api_url)
            await wait_until(pilot, lambda: status(app).link.state == LinkState.LIVE, within=20)
            await asyncio.to_thread(post_reviews, collector, [load(143)["body"]])
            await wait_until(pilot, lambda: len(table(app).events) == before + 1)
            ids = [e.id for e in table(app).events]
            assert len(ids) == len(set(ids))


async def test_a_screenshot_without_a_downloads_folder_goes_to_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # no ~/Downloads
    monkeypatch.delenv("XDG_DOWNLOAD_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    app = app_for(f"http://127.0.0.1:{free_port()}")
    async with app.run_test(size=SIZE) as pilot:
        [screenshot] = [c for c in app.get_system_commands(app.screen) if c.title == "Screenshot"]
        screenshot.callback()  # as the command palette runs it
        await wait_until(pilot, lambda: bool(list(tmp_path.glob("*.svg"))))


async def test_the_tree_names_machines_as_last_actors_only_in_everything(
    fed_collector: CollectorProcess,
) -> None:
    app = app_for(fed_collector.api_url)
    async with app.run_test(size=SIZE) as pilot:
        tree = await tree_shown(pilot, app)
        kube_system = namespace_node(tree, "kube-system")
        assert "system:" not in str(kube_system.label)
        await pilot.press("p")
        await wait_until(pilot, lambda: "system:" in str(kube_system.label))


async def test_the_selected_objects_whole_history(fed_collector: CollectorProcess) -> None:
    app = app_for(fed_collector.api_url)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: loaded(app))
        row = next(i for i, e in enumerate(table(app).events) if e.kind == "Deployment")
        table(app).move_cursor(row=row)
        chosen = table(app).events[row]
        await pilot.press("H")
        wanted = EventFilter(
            namespace=chosen.namespace, kind="Deployment", group="apps", name=chosen.name
        )
        await wait_until(pilot, lambda: app.browse.filter == wanted)
        await wait_until(pilot, lambda: any(e.user.is_machine for e in table(app).events))
        assert {e.object_key for e in table(app).events} == {chosen.object_key}

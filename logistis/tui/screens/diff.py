"""One event up close, under who acted and what manages the object: the YAML diff, the JSON patch, the object itself, and who last changed
each of its lines (as `kubectl blame --fields`, from the object's recorded history)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import Header, Static, TabbedContent, TabPane

from logistis.client.diff import DiffKind, patch_lines, strip_noise, to_yaml, unified_diff
from logistis.client.events import Event, EventFilter
from logistis.client.fieldblame import BlamedLine, replay
from logistis.client.history import object_history
from logistis.client.marks import GAP_MARK as UNRECORDED_MARK
from logistis.client.marks import gap_line, never_landed_line
from logistis.client.protocol import HistoryClient
from logistis.client.provenance import hand_mark, provenance_line
from logistis.tui.format import (
    Clock,
    Palette,
    kind_label,
    relative_time,
    short_identity,
)
from logistis.tui.screens.base import WorkingScreen
from logistis.tui.widgets.columns import cut
from logistis.tui.widgets.key_footer import KeyFooter
from logistis.tui.widgets.line_view import LineView

# Ages are shown to the second below a minute: the header follows at that pace.
AGE_TICK_SECONDS = 1.0
BLAME_USER, BLAME_MANAGER = 14, 12
# The width of the credit before each blamed line after the event: user, age and manager.
BLAME_WHO = BLAME_USER + 1 + 8 + 1 + BLAME_MANAGER
NO_OBJECT = "no object left (deleted before this event)"
NO_CHANGE = "no change (noise hidden: m shows it)"
BEFORE_SIDE = "  so the (before) side below is not what the previous recorded event left"


@dataclass(frozen=True, slots=True)
class Shown:
    """What one tab shows of one event, computed off the UI thread: its lines and, for the
    diff, the kind of each line (which decides its colour)."""

    lines: list[str]
    kinds: list[DiffKind] | None = None


def render(event: Event, tab: str, *, show_noise: bool) -> Shown:
    """The lines of `tab` ("diff", "patch" or "object") for `event`."""
    old, new = event.old_object, event.object
    if tab == "patch":
        return Shown(patch_lines(old, new, show_noise=show_noise))
    if tab == "object":
        shown = new if new is not None else old
        return Shown([] if shown is None else to_yaml(strip_noise(shown, show_noise)).splitlines())
    labels = (f"{event.reference} (before)", f"{event.reference} (after)")
    diff = unified_diff(old, new, show_noise=show_noise, labels=labels)
    if not diff:
        return Shown([NO_CHANGE])
    return Shown([line.marked for line in diff], [line.kind for line in diff])


def render_blame(
    history: Sequence[Event], event: Event, now: datetime, *, show_noise: bool
) -> Shown:
    """The object as `event` left it, each line credited to the write that last changed it."""
    state = replay(e for e in history if e.id <= event.id)
    lines = state.lines(show_noise=show_noise)
    if not lines:
        return Shown([NO_OBJECT])
    return Shown([_blamed(line, now) for line in lines])


def _blamed(line: BlamedLine, now: datetime) -> str:
    """`  1042 alice           3d ago kubectl-edit │ replicas: 3`: kept short, so the YAML
    has most of a narrow terminal."""
    author = line.author
    if author is None:
        who = f"{'?':>6} {'(before the recorded history)':<{BLAME_WHO}}"
    else:
        mark = UNRECORDED_MARK if author.unrecorded else str(author.event_id)
        user = cut(Text(short_identity(author.user)), BLAME_USER, middle=True).plain
        manager = cut(Text(author.via), BLAME_MANAGER).plain
        age = relative_time(author.time, now)
        who = f"{mark:>6} {user:<{BLAME_USER}} {age:>8} {manager:<{BLAME_MANAGER}}"
    return f"{who} │ {line.text}"


def history_marks(event: Event) -> str:
    """Where the "before" side is not what the previous recorded event left, and whether the
    change landed (docs/trust.md); empty when the history around the event is whole."""
    gap, lost = gap_line(event), never_landed_line(event)
    lines = [gap, BEFORE_SIDE] if gap else []
    return "\n".join([*lines, *([lost] if lost else [])])


def provenance(event: Event) -> str:
    """Who acted, what manages the object, the hand edit's fate and the GitOps revision:
    `actor person (kubectl)  ·  managed by argocd shop  ·  hand edit, put back by event 9`."""
    line = provenance_line(event)
    return f"{hand_mark(event)} {line}".strip() if line else ""


class DiffScreen(WorkingScreen[None]):
    BINDINGS = [
        Binding("escape,q", "app.pop_screen", "Back"),
        Binding("m", "toggle_noise", "Noise"),
        Binding("1", "tab('diff')", "Diff"),
        Binding("2", "tab('patch')", "Patch"),
        Binding("3", "tab('object')", "Object"),
        Binding("4", "tab('blame')", "Blame"),
    ]
    HELP_TITLE = "Diff (enter on an event)"

    class Fetched(Message):
        def __init__(self, event: Event) -> None:
            super().__init__()
            self.event = event

    class HistoryFetched(Message):
        def __init__(self, history: list[Event]) -> None:
            super().__init__()
            self.history = history

    class Rendered(Message):
        def __init__(self, tab: str, shown: Shown, show_noise: bool) -> None:
            super().__init__()
            self.tab, self.shown, self.show_noise = tab, shown, show_noise

    show_noise: reactive[bool] = reactive(False, init=False)

    def __init__(self, summary: Event, client: HistoryClient, clock: Clock) -> None:
        super().__init__()
        self.summary = summary
        self.client = client
        self.clock = clock
        self.event: Event | None = None
        # The tabs drawn for the event as the noise setting asks, and those asked for. A tab is
        # computed when first shown: opening a large object diffs it, and only that.
        self.shown: dict[str, Shown] = {}
        self._asked: set[str] = set()
        # The object's recorded history, oldest first, fetched when the blame is first shown.
        self.history: list[Event] | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(self._title(), id="diff-title")
        said = provenance(self.summary)
        classes = ("-hand-edit" if self.summary.hand_edit else "") if said else "-hidden"
        yield Static(said, id="diff-provenance", classes=classes, markup=False)
        marks = history_marks(self.summary)
        yield Static(marks, id="diff-marks", classes="" if marks else "-hidden", markup=False)
        with TabbedContent(initial="diff"):
            with TabPane("YAML diff", id="diff"):
                yield LineView(id="diff-view")
            with TabPane("JSON patch", id="patch"):
                yield LineView(id="patch-view")
            with TabPane("Object", id="object"):
                yield LineView(id="object-view")
            with TabPane("Blame", id="blame"):
                yield LineView(id="blame-view")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.query_one("#diff-view", LineView).show(["loading…"])
        self.fetch()
        self.set_interval(AGE_TICK_SECONDS, self._tick)

    def _tick(self) -> None:
        """The header's age stays true while the screen is open."""
        self.query_one("#diff-title", Static).update(self._title())

    @work(exclusive=True, group="diff-fetch", exit_on_error=False, description="loading the event")
    async def fetch(self) -> None:
        summary = self.summary
        self.post_message(self.Fetched(await self.client.event(summary.id, summary.namespace)))

    @work(exclusive=True, group="diff-history", exit_on_error=False, description="loading history")
    async def fetch_history(self) -> None:
        summary = self.summary
        filter = EventFilter(
            namespace=summary.namespace,
            kind=summary.kind,
            group=summary.resource.group,
            name=summary.name,
        )
        self.post_message(self.HistoryFetched(await object_history(self.client, filter)))

    @work(thread=True, group="diff-render", exit_on_error=False, description="blaming")
    def compute_blame(self, history: list[Event], event: Event, show_noise: bool) -> None:
        shown = render_blame(history, event, self.clock(), show_noise=show_noise)
        self.post_message(self.Rendered("blame", shown, show_noise))

    # Diffing large objects is CPU work: a thread, so the UI keeps answering.
    @work(thread=True, group="diff-render", exit_on_error=False, description="diffing")
    def compute(self, event: Event, tab: str, show_noise: bool) -> None:
        self.post_message(self.Rendered(tab, render(event, tab, show_noise=show_noise), show_noise))

    def on_diff_screen_fetched(self, message: Fetched) -> None:
        self.event = message.event
        self._fill(self.query_one(TabbedContent).active)

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        self._fill(event.tabbed_content.active)

    def on_diff_screen_history_fetched(self, message: HistoryFetched) -> None:
        self.history = message.history
        self._fill(self.query_one(TabbedContent).active)

    def _fill(self, tab: str) -> None:
        if self.event is None or tab in self._asked:
            return
        if tab != "blame":
            self._asked.add(tab)
            self.compute(self.event, tab, self.show_noise)
        elif self.history is None:
            self.query_one("#blame-view", LineView).show(["loading the object's history…"])
            self.fetch_history()
        else:
            self._asked.add(tab)
            self.compute_blame(self.history, self.event, self.show_noise)

    def on_diff_screen_rendered(self, message: Rendered) -> None:
        if message.show_noise != self.show_noise:
            return  # a toggle happened meanwhile; its own rendering is on the way
        shown = self.shown[message.tab] = message.shown
        view = self.query_one(f"#{message.tab}-view", LineView)
        if shown.kinds is None:
            view.show(shown.lines)
        else:
            palette = Palette.of(self.app.current_theme)
            styles = {kind: palette.diff(kind) for kind in DiffKind}
            view.show(shown.lines, [styles[kind] for kind in shown.kinds])

    def watch_show_noise(self, show_noise: bool) -> None:
        self.sub_title = "noise shown" if show_noise else "noise hidden"
        self.shown.clear()
        self._asked.clear()
        self._fill(self.query_one(TabbedContent).active)

    def action_toggle_noise(self) -> None:
        self.show_noise = not self.show_noise

    def action_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab

    def _title(self) -> Text:
        event = self.summary
        palette = Palette.of(self.app.current_theme)
        via = f"  via {event.field_manager}" if event.field_manager else ""
        return Text.assemble(
            (event.operation, palette.operation(event.operation)),
            f" {kind_label(event)} {event.reference}  by {event.user.username}",
            (f"  {relative_time(event.time, self.clock())}", "dim"),
            (f"{via}  event {event.id}", "dim"),
        )

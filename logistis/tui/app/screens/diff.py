"""One event up close: the YAML diff, the JSON patch, and the object itself."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import Header, Static, TabbedContent, TabPane

from logistis.tui.app.format import Clock, Palette, kind_label, relative_time
from logistis.tui.app.screens.base import WorkingScreen
from logistis.tui.app.widgets.key_footer import KeyFooter
from logistis.tui.app.widgets.line_view import LineView
from logistis.tui.core.api import CollectorClient
from logistis.tui.core.diff import DiffLine, patch_lines, strip_noise, to_yaml, unified_diff
from logistis.tui.core.events import Event
from logistis.tui.core.marks import gap_line, never_landed_line

NO_CHANGE = "no change (noise hidden: m shows it)"
BEFORE_SIDE = "  so the (before) side below is not what the previous recorded event left"


@dataclass(frozen=True, slots=True)
class Rendering:
    """Everything the screen shows for one event, computed off the UI thread."""

    diff: list[DiffLine]
    patch: list[str]
    yaml: list[str]  # the object, a line each


def render(event: Event, *, show_noise: bool) -> Rendering:
    old, new = event.old_object, event.object
    labels = (f"{event.reference} (before)", f"{event.reference} (after)")
    shown = new if new is not None else old
    return Rendering(
        diff=unified_diff(old, new, show_noise=show_noise, labels=labels),
        patch=patch_lines(old, new, show_noise=show_noise),
        yaml=to_yaml(strip_noise(shown, show_noise)).splitlines() if shown is not None else [],
    )


def history_marks(event: Event) -> str:
    """Where the "before" side is not what the previous recorded event left, and whether the
    change landed (docs/trust.md); empty when the history around the event is whole."""
    gap, lost = gap_line(event), never_landed_line(event)
    lines = [gap, BEFORE_SIDE] if gap else []
    return "\n".join([*lines, *([lost] if lost else [])])


class DiffScreen(WorkingScreen):
    BINDINGS = [
        Binding("escape,q", "app.pop_screen", "Back"),
        Binding("m", "toggle_noise", "Noise"),
        Binding("1", "tab('diff')", "Diff"),
        Binding("2", "tab('patch')", "Patch"),
        Binding("3", "tab('object')", "Object"),
    ]

    class Fetched(Message):
        def __init__(self, event: Event) -> None:
            super().__init__()
            self.event = event

    class Rendered(Message):
        def __init__(self, event: Event, rendering: Rendering, show_noise: bool) -> None:
            super().__init__()
            self.event, self.rendering, self.show_noise = event, rendering, show_noise

    show_noise: reactive[bool] = reactive(False, init=False)

    def __init__(self, summary: Event, client: CollectorClient, clock: Clock) -> None:
        super().__init__()
        self.summary = summary
        self.client = client
        self.clock = clock
        self.event: Event | None = None
        self.rendering: Rendering | None = None
        # Tabs showing the current rendering; the others are filled when first shown, so
        # opening a large object draws its diff without laying out the object as well.
        self._filled: set[str] = set()

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(self._title(), id="diff-title")
        marks = history_marks(self.summary)
        yield Static(marks, id="diff-marks", classes="" if marks else "-hidden", markup=False)
        with TabbedContent(initial="diff"):
            with TabPane("YAML diff", id="diff"):
                yield LineView(id="diff-view")
            with TabPane("JSON patch", id="patch"):
                yield LineView(id="patch-view")
            with TabPane("Object", id="object"):
                yield LineView(id="object-view")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.query_one("#diff-view", LineView).show(["loading…"])
        self.fetch()

    @work(exclusive=True, group="diff-fetch", exit_on_error=False, description="loading the event")
    async def fetch(self) -> None:
        summary = self.summary
        self.post_message(self.Fetched(await self.client.event(summary.id, summary.namespace)))

    # Diffing large objects is CPU work: a thread, so the UI keeps answering.
    @work(thread=True, exclusive=True, group="diff-render", exit_on_error=False,
          description="diffing")  # fmt: skip
    def compute(self, event: Event, show_noise: bool) -> None:
        self.post_message(self.Rendered(event, render(event, show_noise=show_noise), show_noise))

    def on_diff_screen_fetched(self, message: Fetched) -> None:
        self.event = message.event
        self.compute(message.event, self.show_noise)

    def on_diff_screen_rendered(self, message: Rendered) -> None:
        if message.show_noise != self.show_noise:
            return  # a toggle happened meanwhile; its own rendering is on the way
        self.rendering = message.rendering
        self._filled.clear()
        self._fill(self.query_one(TabbedContent).active)

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        self._fill(event.tabbed_content.active)

    def _fill(self, tab: str) -> None:
        rendering = self.rendering
        if rendering is None or tab in self._filled:
            return
        self._filled.add(tab)
        view = self.query_one(f"#{tab}-view", LineView)
        if tab == "patch":
            view.show(rendering.patch)
        elif tab == "object":
            view.show(rendering.yaml)
        elif rendering.diff:
            palette = Palette.of(self.app.current_theme)
            view.show(
                [line.marked for line in rendering.diff],
                [palette.diff(line.kind) for line in rendering.diff],
            )
        else:
            view.show([NO_CHANGE])

    def watch_show_noise(self, show_noise: bool) -> None:
        self.sub_title = "noise shown" if show_noise else "noise hidden"
        if self.event is not None:
            self.compute(self.event, show_noise)

    def action_toggle_noise(self) -> None:
        self.show_noise = not self.show_noise

    def action_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab

    def _title(self) -> Text:
        event = self.summary
        palette = Palette.of(self.app.current_theme)
        return Text.assemble(
            (event.operation, palette.operation(event.operation)),
            f" {kind_label(event)} {event.reference}  by {event.user.username}",
            (f"  {relative_time(event.time, self.clock())}", "dim"),
            (f"  via {event.field_manager or '-'}  event {event.id}", "dim"),
        )

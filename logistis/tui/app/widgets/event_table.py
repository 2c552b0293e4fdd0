"""The event list, newest first; it asks for the page below or above when the cursor nears
either end of the rows held.

Where the history is not whole, rows say so (docs/trust.md): below an event that found a gap,
a row for what changed outside the recorded history; between events, a row for each blind
spot (no collector recording); an event whose change never landed is dimmed, and says why.
Such rows keep the cursor's place with the event they sit by, but are not that event: enter
on one explains the mark (`selected_mark`), and nothing acts on an event from it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from rich.text import Text
from textual._two_way_dict import TwoWayDict
from textual.binding import Binding
from textual.coordinate import Coordinate
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import DataTable
from textual.widgets.data_table import CellKey, RowKey

from logistis.tui.app.format import (
    Clock,
    Palette,
    change_summary,
    event_time,
    kind_label,
    operation_text,
    system_clock,
    user_text,
)
from logistis.tui.core.events import BlindSpot, Event
from logistis.tui.core.marks import (
    GAP_MARK,
    NEVER_LANDED,
    NEVER_LANDED_MARK,
    UNRECORDED,
    unrecorded_summary,
    why_never_landed,
)


@dataclass(frozen=True, slots=True)
class Gap:
    """The `⋯ unrecorded` row below `event`: its object changed before it, unrecorded."""

    event: Event


Mark = Gap | BlindSpot

COLUMNS = ("time", "operation", "user", "kind", "object", "manager", "changes")
# How close to the last (or first) row the cursor gets before the next page is asked for.
PREFETCH_ROWS = 20


class EventTable(DataTable[str | Text]):
    # Styled in logistis.tcss.
    COMPONENT_CLASSES = DataTable.COMPONENT_CLASSES | {
        "event-table--gap",
        "event-table--never-landed",
        "event-table--blind-spot",
    }

    class NearEnd(Message):
        """The cursor is close to the last loaded row: time to load the next page."""

    class NearStart(Message):
        """The cursor is close to the first loaded row: the page above may be wanted."""

    # As in vim, less and k9s, next to the arrows.
    BINDINGS = [
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
    ]

    absolute_time: reactive[bool] = reactive(False)

    def __init__(self, *, clock: Clock = system_clock, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self.clock = clock
        self.events: list[Event] = []
        # Each row's key, the event it belongs to and its mark (none on an event's own row).
        self._rows: list[tuple[str, Event, Mark | None]] = []
        self.blind_spots: tuple[BlindSpot, ...] = ()
        self._widths: tuple[int, ...] = ()

    def on_mount(self) -> None:
        for column in COLUMNS:
            self.add_column(column, key=column)

    def on_idle(self) -> None:
        # DataTable (Textual 8) measures its columns when idle, after rows came, and keeps
        # what it rendered at the old widths: a header drawn in between stays narrower than
        # the rows until the cursor moves. Runs before DataTable's own idle handler, so it
        # sees a change at the next idle after it (the new size's repaint brings one).
        widths = tuple(column.content_width for column in self.columns.values())
        if widths != self._widths:
            self._widths = widths
            self._clear_caches()
            self.refresh()

    @property
    def selected(self) -> Event | None:
        """The event under the cursor; None on a mark's row."""
        row = self._cursor_row()
        return row[1] if row is not None and row[2] is None else None

    @property
    def selected_mark(self) -> Mark | None:
        row = self._cursor_row()
        return row[2] if row is not None else None

    def _cursor_row(self) -> tuple[str, Event, Mark | None] | None:
        return self._rows[self.cursor_row] if 0 <= self.cursor_row < len(self._rows) else None

    def previous_of(self, event: Event) -> Event | None:
        """The loaded event of the same object recorded just before `event`, if any."""
        older = self.events[self.events.index(event) + 1 :] if event in self.events else []
        return next((e for e in older if e.object_key == event.object_key), None)

    @property
    def at_top(self) -> bool:
        return self.cursor_row <= 0 and self.scroll_y == 0

    def show(self, events: Iterable[Event]) -> None:
        """Replace everything shown (a new filter, a refresh)."""
        self.events = []
        self._rows = []
        self.clear()
        self.append(events)

    def append(self, events: Iterable[Event]) -> None:
        """Older events, at the bottom (the next page)."""
        now = self._now()
        for event in events:
            newer = self.events[-1] if self.events else None
            for spot in self.blind_spots:
                if event.time <= spot.start and (newer is None or spot.start < newer.time):
                    key = f"spot-{spot.start.isoformat()}-{event.id}"
                    self._add(key, event, self._spot_cells(spot), spot)
            self.events.append(event)
            self._add(str(event.id), event, self._cells(event, now))
            if event.after_gap:
                self._add(f"{event.id}-gap", event, self._gap_cells(event), Gap(event))

    def _add(
        self, key: str, event: Event, cells: list[str | Text], mark: Mark | None = None
    ) -> None:
        self._rows.append((key, event, mark))
        self.add_row(*cells, key=key)

    def _first_row_of(self, event: Event) -> int | None:
        return next((i for i, (_, e, _) in enumerate(self._rows) if e.id == event.id), None)

    def drop_top(self, count: int) -> None:
        """Drop the first `count` rows (the newest page, the window moving down); the cursor
        stays on its event, at the same height on screen."""
        # DataTable.remove_row renumbers every row at each call: dropping a page of a full
        # window that way, or rebuilding the rest, costs more than loading the page. This is
        # remove_row's bookkeeping (Textual 8) done once for all `count` rows.
        if not count:
            return
        self.events = self.events[count:]
        kept = self._first_row_of(self.events[0]) if self.events else len(self._rows)
        dropped, self._rows = self._rows[:kept], self._rows[kept:]
        row = max(self.cursor_row - len(dropped), 0)
        height = self.cursor_row - round(self.scroll_y)
        for name, _, _ in dropped:
            key = RowKey(name)
            for column in self._data[key]:
                self._updated_cells.discard(CellKey(key, column))
            del self.rows[key], self._data[key]
        self._row_locations = TwoWayDict({RowKey(k): i for i, (k, _, _) in enumerate(self._rows)})
        self._require_update_dimensions = True
        self._update_count += 1
        self.hover_coordinate = Coordinate(0, 0)
        self.refresh(layout=True)
        self._keep_in_view(row, height)

    def prepend(self, events: Iterable[Event]) -> int:
        """Newer events, at the top (live ones), newest first; returns how many were new."""
        known = {e.id for e in self.events[:200]}
        fresh = sorted((e for e in events if e.id not in known), key=lambda e: -e.id)
        if fresh:
            self.replace([*fresh, *self.events], shift=len(fresh) if self.cursor_row > 0 else 0)
        return len(fresh)

    def replace(self, events: Sequence[Event], *, shift: int) -> None:
        """Show `events` instead, the event under the cursor now `shift` rows further down
        (negative: up): the cursor stays on it and at the same height on screen, so rows
        added or dropped above do not move the view."""
        # DataTable only appends: rows are rebuilt, which is cheap for the window held.
        row, height = self._cursor_row(), self.cursor_row - round(self.scroll_y)
        current = row[1] if row is not None else None
        first = self._first_row_of(current) if current is not None else None
        offset = self.cursor_row - first if first is not None else 0
        self.show(events)
        found = self._first_row_of(current) if current is not None and shift else None
        row = found + offset if found is not None else self.cursor_row + shift
        self._keep_in_view(min(max(row, 0), max(len(self._rows) - 1, 0)), height)

    def settle(self, outcomes: Mapping[int, bool]) -> None:
        """Outcomes (`applied`) of shown events, by id, decided since they were shown."""
        now = self._now()

        def settled(event: Event) -> Event:
            applied = outcomes.get(event.id, event.applied)
            return event if applied is event.applied else replace(event, applied=applied)

        self.events = [settled(e) for e in self.events]
        self._rows = [(key, settled(e), mark) for key, e, mark in self._rows]
        for event in self.events:
            if event.id in outcomes and str(event.id) in self.rows:
                for column, cell in zip(COLUMNS, self._cells(event, now), strict=True):
                    self.update_cell(str(event.id), column, cell)

    def _keep_in_view(self, row: int, height: int) -> None:
        """The cursor on `row`, `height` rows below the top of the view, where its event was
        before rows above it came or went."""
        self.move_cursor(row=row, animate=False, scroll=False)
        # After the refresh that sizes the changed table, or the scroll would be clamped.
        self.call_after_refresh(self.scroll_to, y=max(row - height, 0), animate=False)

    def watch_absolute_time(self) -> None:
        self.refresh_times()

    def refresh_times(self) -> None:
        now = self._now()
        for event in self.events:
            time = event_time(event, now, absolute=self.absolute_time)
            self.update_cell(str(event.id), "time", Text(time))

    def on_data_table_row_highlighted(self, _: DataTable.RowHighlighted) -> None:
        if self.cursor_row >= self.row_count - PREFETCH_ROWS:
            self.post_message(self.NearEnd())
        if self.cursor_row < PREFETCH_ROWS:
            self.post_message(self.NearStart())

    def _now(self) -> datetime:
        return self.clock()

    def _cells(self, event: Event, now: datetime) -> list[str | Text]:
        # Text, not str: DataTable parses a str as markup each time it measures or draws the
        # cell, a third of the cost of showing a page (and a name with "[" is not markup).
        palette = Palette.of(self.app.current_theme)
        cells = [
            Text(event_time(event, now, absolute=self.absolute_time)),
            operation_text(event, palette),
            user_text(event.user.username, palette),
            Text(kind_label(event)),
            Text(event.reference),
            Text(event.field_manager),
            Text(change_summary(event)),
        ]
        if event.never_landed:
            style = self.get_component_rich_style("event-table--never-landed")
            why = why_never_landed(event)
            cells[-1] = Text(f"{NEVER_LANDED_MARK} {NEVER_LANDED} ({why}): {cells[-1]}")
            for cell in cells:
                cell.stylize(style)
        return list(cells)

    def _gap_cells(self, event: Event) -> list[str | Text]:
        style = self.get_component_rich_style("event-table--gap")
        note = f"changed outside the recorded history: {unrecorded_summary(event)}"
        return ["", Text(f"{GAP_MARK} {UNRECORDED}", style), Text("?", style), "", "", "",
                Text(note, style)]  # fmt: skip

    def _spot_cells(self, spot: BlindSpot) -> list[str | Text]:
        style = self.get_component_rich_style("event-table--blind-spot")
        note = f"no collector was recording for {_duration(spot.seconds)} ({spot.cause})"
        return ["", Text(f"{GAP_MARK} blind spot", style), "", "", "", "", Text(note, style)]


def _duration(seconds: float) -> str:
    """`42s`, `5m 3s`, `2h 10m`."""
    whole = int(seconds)
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m {whole % 60}s"
    return f"{whole // 3600}h {whole % 3600 // 60}m"

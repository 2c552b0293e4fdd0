"""The event list, newest first; it asks for the page below or above when the cursor nears
either end of the rows held."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from rich.text import Text
from textual._two_way_dict import TwoWayDict
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
from logistis.tui.core.events import Event

COLUMNS = ("time", "operation", "user", "kind", "object", "manager", "changes")
# How close to the last (or first) row the cursor gets before the next page is asked for.
PREFETCH_ROWS = 20


class EventTable(DataTable[str | Text]):
    class NearEnd(Message):
        """The cursor is close to the last loaded row: time to load the next page."""

    class NearStart(Message):
        """The cursor is close to the first loaded row: the page above may be wanted."""

    absolute_time: reactive[bool] = reactive(False)

    def __init__(self, *, clock: Clock = system_clock, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self.clock = clock
        self.events: list[Event] = []

    def on_mount(self) -> None:
        for column in COLUMNS:
            self.add_column(column, key=column)

    @property
    def selected(self) -> Event | None:
        if not self.events or not 0 <= self.cursor_row < len(self.events):
            return None
        return self.events[self.cursor_row]

    @property
    def at_top(self) -> bool:
        return self.cursor_row <= 0 and self.scroll_y == 0

    def show(self, events: Iterable[Event]) -> None:
        """Replace everything shown (a new filter, a refresh)."""
        self.events = []
        self.clear()
        self.append(events)

    def append(self, events: Iterable[Event]) -> None:
        """Older events, at the bottom (the next page)."""
        now = self._now()
        for event in events:
            self.events.append(event)
            self.add_row(*self._cells(event, now), key=str(event.id))

    def drop_top(self, count: int) -> None:
        """Drop the first `count` rows (the newest page, the window moving down); the cursor
        stays on its event, at the same height on screen."""
        # DataTable.remove_row renumbers every row at each call: dropping a page of a full
        # window that way, or rebuilding the rest, costs more than loading the page. This is
        # remove_row's bookkeeping (Textual 8) done once for all `count` rows.
        if not count:
            return
        dropped, self.events = self.events[:count], self.events[count:]
        row = max(self.cursor_row - count, 0)
        height = self.cursor_row - round(self.scroll_y)
        for event in dropped:
            key = RowKey(str(event.id))
            for column in self._data[key]:
                self._updated_cells.discard(CellKey(key, column))
            del self.rows[key], self._data[key]
        self._row_locations = TwoWayDict({RowKey(str(e.id)): i for i, e in enumerate(self.events)})
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
        row = min(max(self.cursor_row + shift, 0), max(len(events) - 1, 0))
        height = self.cursor_row - round(self.scroll_y)
        self.show(events)
        self._keep_in_view(row, height)

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
        return [
            Text(event_time(event, now, absolute=self.absolute_time)),
            operation_text(event, palette),
            user_text(event.user.username, palette),
            Text(kind_label(event)),
            Text(event.reference),
            Text(event.field_manager),
            Text(change_summary(event)),
        ]

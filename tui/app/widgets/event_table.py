"""The event list, newest first; it asks for the next page when the cursor nears the end."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from rich.text import Text
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import DataTable

from tui.app.format import (
    Clock,
    Palette,
    change_summary,
    event_time,
    kind_label,
    operation_text,
    system_clock,
    user_text,
)
from tui.core.events import Event

COLUMNS = ("time", "operation", "user", "kind", "object", "manager", "changes")
# How close to the last row the cursor gets before the next page is asked for.
PREFETCH_ROWS = 20


class EventTable(DataTable[str | Text]):
    class NearEnd(Message):
        """The cursor is close to the last loaded row: time to load the next page."""

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

    def prepend(self, events: Iterable[Event]) -> None:
        """Newer events, at the top (live ones), newest first."""
        known = {e.id for e in self.events[:200]}
        fresh = sorted((e for e in events if e.id not in known), key=lambda e: -e.id)
        if not fresh:
            return
        # DataTable only appends; rows are rebuilt, which is cheap for the pages loaded.
        row = self.cursor_row
        self.show([*fresh, *self.events])
        self.move_cursor(row=row + len(fresh) if row > 0 else 0, animate=False)

    def watch_absolute_time(self) -> None:
        self.refresh_times()

    def refresh_times(self) -> None:
        now = self._now()
        for event in self.events:
            time = event_time(event, now, absolute=self.absolute_time)
            self.update_cell(str(event.id), "time", time)

    def on_data_table_row_highlighted(self, _: DataTable.RowHighlighted) -> None:
        if self.cursor_row >= self.row_count - PREFETCH_ROWS:
            self.post_message(self.NearEnd())

    def _now(self) -> datetime:
        return self.clock()

    def _cells(self, event: Event, now: datetime) -> list[str | Text]:
        palette = Palette.of(self.app.current_theme)
        return [
            event_time(event, now, absolute=self.absolute_time),
            operation_text(event, palette),
            user_text(event.user.username, palette),
            kind_label(event),
            event.reference,
            event.field_manager,
            change_summary(event),
        ]

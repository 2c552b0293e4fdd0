"""The event list, newest first; it asks for the page below or above when the cursor nears
either end of the rows held.

Where the history is not whole, rows say so (docs/trust.md): below an event that found a gap,
a row for what changed outside the recorded history; between events, a row for each blind
spot (no collector recording); an event whose change never landed is dimmed, and says why.
A hand edit of what a GitOps tool manages is marked before its changes (`✋`, `✋↩` when the
tool put it back, `↩` on the tool's write that did).
Such rows keep the cursor's place with the event they sit by, but are not that event: enter
on one explains the mark (`selected_mark`), and nothing acts on an event from it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from rich.style import Style
from rich.text import Text
from textual.binding import Binding
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import DataTable

from logistis.client.events import BlindSpot, Event
from logistis.client.marks import (
    GAP_MARK,
    NEVER_LANDED,
    NEVER_LANDED_MARK,
    UNRECORDED,
    unrecorded_summary,
    why_never_landed,
)
from logistis.client.provenance import hand_mark
from logistis.tui.format import (
    Clock,
    Palette,
    absolute_time,
    change_summary,
    event_time,
    object_label,
    operation_text,
    relative_time,
    system_clock,
    user_text,
)
from logistis.tui.widgets.columns import BY_KEY, Widths, cut, fit, natural_widths


@dataclass(frozen=True, slots=True)
class Gap:
    """The `⋯ unrecorded` row below `event`: its object changed before it, unrecorded."""

    event: Event


Mark = Gap | BlindSpot

Cells = dict[str, Text]
# How close to the last (or first) row the cursor gets before the next page is asked for.
PREFETCH_ROWS = 20


class EventTable(DataTable[str | Text]):
    # Styled in logistis.tcss.
    COMPONENT_CLASSES = DataTable.COMPONENT_CLASSES | {
        "event-table--gap",
        "event-table--never-landed",
        "event-table--blind-spot",
        "event-table--hand-edit",
        "event-table--put-back",
    }

    class NearEnd(Message):
        """The cursor is close to the last loaded row: time to load the next page."""

    class NearStart(Message):
        """The cursor is close to the first loaded row: the page above may be wanted."""

    # As in vim, less and k9s, next to the arrows.
    BINDINGS = [
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
        Binding("s", "sort_next", "Sort by the next column", show=False),
    ]

    absolute_time: reactive[bool] = reactive(False)
    # The loaded rows sorted by this column (reversed: descending); None: newest first, with
    # the marks between them (they belong to the time order).
    ordering: reactive[tuple[str, bool] | None] = reactive(None, init=False)

    def __init__(self, *, clock: Clock = system_clock, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self.clock = clock
        self.events: list[Event] = []
        # Each row's key, the event it belongs to and its mark (none on an event's own row).
        self._rows: list[tuple[str, Event, Mark | None]] = []
        self.blind_spots: tuple[BlindSpot, ...] = ()
        # The columns shown and their widths, fitted to the table's width and the rows shown.
        self.widths: Widths = {}

    def on_resize(self) -> None:
        if self._fitted(self.events) != self.widths:
            self.replace(self.events, shift=0)

    def _fitted(self, events: Sequence[Event]) -> Widths:
        now = self._now()
        natural = natural_widths(
            {key: cell.plain for key, cell in self._cells(event, now).items()} for event in events
        )
        # The vertical scrollbar's cells are kept free: rows coming do not reflow the columns.
        return fit(self.size.width - self.styles.scrollbar_size_vertical, natural)

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

    def show(self, events: Sequence[Event]) -> None:
        """Replace everything shown (a new filter, a refresh); the columns are fitted again."""
        self.events = []
        self._rows = []
        widths = self._fitted(events)
        if widths == self.widths:
            self.clear()
        else:
            self.clear(columns=True)
            self.widths = widths
            for key, width in widths.items():
                self.add_column(self._label(key), width=width, key=key)
        self.append(events)

    def append(self, events: Iterable[Event]) -> None:
        """Older events, at the bottom (the next page)."""
        if self.ordering is not None:
            self.events.extend(events)
            self._sorted_rows()
            return
        now = self._now()
        for event in events:
            newer = self.events[-1] if self.events else None
            for spot in self.blind_spots:
                if event.time <= spot.start and (newer is None or spot.start < newer.time):
                    key = f"spot-{spot.start.isoformat()}-{event.id}"
                    self._add(key, event, self._spot_cells(spot, now), spot)
            self.events.append(event)
            self._add(str(event.id), event, self._cells(event, now))
            if event.after_gap:
                self._add(f"{event.id}-gap", event, self._gap_cells(event), Gap(event))

    def _add(self, key: str, event: Event, cells: Cells, mark: Mark | None = None) -> None:
        self._rows.append((key, event, mark))
        self.add_row(*self._shown(cells), key=key)

    def _shown(self, cells: Cells) -> list[Text]:
        """The cells of the columns shown, in their order, each cut to its column."""
        return [
            cut(cells.get(key, Text()), width, middle=BY_KEY[key].cut_middle)
            for key, width in self.widths.items()
        ]

    def _first_row_of(self, event: Event) -> int | None:
        return next((i for i, (_, e, _) in enumerate(self._rows) if e.id == event.id), None)

    def drop_top(self, count: int) -> None:
        """Drop the first `count` events' rows (the newest page, the window moving down); the
        cursor stays on its event, at the same height on screen."""
        if not count:
            return
        self.events = self.events[count:]
        if self.ordering is not None:
            self._sorted_rows()
            return
        kept = self._first_row_of(self.events[0]) if self.events else len(self._rows)
        dropped, self._rows = self._rows[:kept], self._rows[kept:]
        row = max(self.cursor_row - len(dropped), 0)
        height = self.cursor_row - round(self.scroll_y)
        # Row by row: each removal renumbers the rows held, yet building the rest again costs
        # as much, all of it measured again (tests/tui/measure_window.py).
        for key, _, _ in dropped:
            self.remove_row(key)
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
        target = found + offset if found is not None else self.cursor_row + shift
        self._keep_in_view(min(max(target, 0), max(len(self._rows) - 1, 0)), height)

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
                cells = self._shown(self._cells(event, now))
                for column, cell in zip(self.widths, cells, strict=True):
                    self.update_cell(str(event.id), column, cell)

    def _keep_in_view(self, row: int, height: int) -> None:
        """The cursor on `row`, `height` rows below the top of the view, where its event was
        before rows above it came or went."""
        self.move_cursor(row=row, animate=False, scroll=False)
        # After the refresh that sizes the changed table, or the scroll would be clamped.
        self.call_after_refresh(self.scroll_to, y=max(row - height, 0), animate=False)

    def _label(self, key: str) -> str:
        arrow = {None: "", False: " ▲", True: " ▼"}[
            self.ordering[1] if self.ordering and self.ordering[0] == key else None
        ]
        return BY_KEY[key].label + arrow

    def _sorted_rows(self) -> None:
        """The loaded events as rows in the sort's order, the cursor kept on its event."""
        assert self.ordering is not None
        column, descending = self.ordering
        current, now = self.selected, self._now()
        cells = {e.id: self._cells(e, now) for e in self.events}
        order = sorted(self.events, key=lambda e: _sort_value(e, cells[e.id], column))
        self._rows = []
        self.clear()
        for event in reversed(order) if descending else order:
            self._add(str(event.id), event, cells[event.id])
        row = self._first_row_of(current) if current is not None else None
        self.move_cursor(row=row or 0, animate=False)

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        """A click on a header sorts by it, again the other way, a third time as loaded."""
        event.stop()
        column = str(event.column_key.value)
        sort = self.ordering
        self.ordering = (
            (column, False)
            if sort is None or sort[0] != column
            else (column, True)
            if not sort[1]
            else None
        )

    def action_sort_next(self) -> None:
        keys = list(self.widths)
        at = keys.index(self.ordering[0]) + 1 if self.ordering is not None else 0
        self.ordering = (keys[at], False) if at < len(keys) else None

    def watch_ordering(self) -> None:
        self.widths = {}  # the headers are drawn again, with the arrow
        self.replace(self.events, shift=0)

    def watch_absolute_time(self) -> None:
        if self.is_mounted:
            self.replace(self.events, shift=0)  # the time column's width changes

    def refresh_times(self) -> None:
        now, width = self._now(), self.widths["time"]
        for event in self.events:
            time = Text(event_time(event, now, absolute=self.absolute_time))
            self.update_cell(str(event.id), "time", cut(time, width))

    def on_data_table_row_highlighted(self, _: DataTable.RowHighlighted) -> None:
        if self.cursor_row >= self.row_count - PREFETCH_ROWS:
            self.post_message(self.NearEnd())
        if self.cursor_row < PREFETCH_ROWS:
            self.post_message(self.NearStart())

    def _now(self) -> datetime:
        return self.clock()

    def _cells(self, event: Event, now: datetime) -> Cells:
        # Text, not str: DataTable parses a str as markup each time it measures or draws the
        # cell, a third of the cost of showing a page (and a name with "[" is not markup).
        palette = Palette.of(self.app.current_theme)
        changes = change_summary(event)
        cells = {
            "time": Text(event_time(event, now, absolute=self.absolute_time)),
            "operation": operation_text(event, palette),
            "user": user_text(event.user.username, palette),
            "object": Text(object_label(event)),
            "manager": Text(event.field_manager),
            "changes": Text(changes),
        }
        mark = hand_mark(event)
        if mark:
            # Before the fields, where a narrow column never cuts it; styled by what it says.
            cells["changes"] = Text(f"{mark} {changes}", self._hand_style(event))
        if event.never_landed:
            # What changed first: a narrow column cuts the reason, never the fields.
            why = why_never_landed(event)
            cells["changes"] = Text(f"{NEVER_LANDED_MARK} {NEVER_LANDED}: {changes} ({why})")
            style = self.get_component_rich_style("event-table--never-landed")
            for cell in cells.values():
                cell.stylize(style)
        return cells

    def _hand_style(self, event: Event) -> Style:
        """A hand edit that stuck stands out; one put back, and the write that put it back,
        read as settled."""
        stuck = event.hand_edit and event.reverted_by is None
        return self.get_component_rich_style(
            "event-table--hand-edit" if stuck else "event-table--put-back"
        )

    def select_event(self, event_id: int) -> bool:
        """The cursor on event `event_id` if it is loaded; False when it is not."""
        row = next(
            (i for i, (_, e, m) in enumerate(self._rows) if e.id == event_id and not m), None
        )
        if row is None:
            return False
        self.move_cursor(row=row, animate=False)
        return True

    def _gap_cells(self, event: Event) -> Cells:
        style = self.get_component_rich_style("event-table--gap")
        # The fields first: a narrow column cuts the words, never what changed.
        note = f"{unrecorded_summary(event)}: changed outside the recorded history"
        return _mark_cells(UNRECORDED, note, style, user="?")

    def _spot_cells(self, spot: BlindSpot, now: datetime) -> Cells:
        style = self.get_component_rich_style("event-table--blind-spot")
        note = f"{_duration(spot.seconds)} ({spot.cause}): no collector was recording"
        when = (
            relative_time(spot.start, now) if not self.absolute_time else absolute_time(spot.start)
        )
        return _mark_cells("blind spot", note, style, time=when)


def _sort_value(event: Event, cells: Cells, column: str) -> datetime | str:
    """Times as times (a relative `2d ago` does not sort as text), the rest as shown."""
    return event.time if column == "time" else cells[column].plain.lower()


def _mark_cells(label: str, note: str, style: Style, *, user: str = "", time: str = "") -> Cells:
    """A mark's row: `⋯` where the operation goes, what it is where the object goes."""
    cells = {"time": time, "operation": GAP_MARK, "user": user, "object": label, "changes": note}
    return {key: Text(value, style) for key, value in cells.items()}


def _duration(seconds: float) -> str:
    """`42s`, `5m 3s`, `2h 10m`."""
    whole = int(seconds)
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m {whole % 60}s"
    return f"{whole // 3600}h {whole % 3600 // 60}m"

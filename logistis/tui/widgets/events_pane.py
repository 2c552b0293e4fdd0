"""The events pane: the rows held, newest first, or in their place what to do when there are
none. It holds a window of the history's pages (client/window.py): as the cursor nears either
end of the rows it asks for the page below or above, and it keeps live events waiting, counted,
while the operator looks elsewhere than the newest.
"""

from __future__ import annotations

from collections.abc import Sequence

from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import DataTable

from logistis.client.events import Event
from logistis.client.window import PageSpan, PageWindow, Where
from logistis.tui.format import Clock, system_clock
from logistis.tui.widgets.empty_state import EmptyState
from logistis.tui.widgets.event_table import EventTable

MARK_IS_NOT_AN_EVENT = "a ⋯ row is a mark, not an event: enter explains it"


class EventsPane(Vertical):
    class PageWanted(Message):
        """The page fetched with `cursor` is wanted, to go `where` in the window."""

        def __init__(self, where: Where, cursor: str | None) -> None:
            super().__init__()
            self.where, self.cursor = where, cursor

    class NewestWanted(Message):
        """The newest events are wanted on top: the operator came back to them, or the page
        above no longer joins the rows held."""

    # Live events go on top only while following (bound to the screen's).
    following: reactive[bool] = reactive(True, init=False)

    def __init__(
        self,
        *,
        page_size: int,
        window_pages: int,
        clock: Clock = system_clock,
        id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        self.clock = clock
        self.page_size = page_size
        self.window = PageWindow(window_pages)
        # Live events not shown yet: the operator is looking elsewhere.
        self.pending: list[Event] = []
        self._paging = False

    def compose(self) -> ComposeResult:
        yield EventTable(clock=self.clock, id="events")
        yield EmptyState(id="empty", markup=False)

    @property
    def table(self) -> EventTable:
        return self.query_one(EventTable)

    def selected_event(self) -> Event | None:
        """The event under the cursor; on a mark's row, None, and the operator is told why."""
        table = self.table
        if table.selected is None and table.selected_mark is not None:
            self.notify(MARK_IS_NOT_AN_EVENT, severity="warning", timeout=3)
        return table.selected

    def take_page(
        self, where: Where, cursor: str | None, items: Sequence[Event], next: str | None
    ) -> None:
        """A page of the filter shown; one asked for before the window moved is dropped."""
        table, window = self.table, self.window
        if not window.fits(where, cursor):
            return
        page = PageSpan(cursor, len(items), next)
        self._paging = False
        if where is Where.FIRST:
            self.pending.clear()
            window.reset(page)
            table.show(items)
        elif where is Where.OLDER:
            table.append(items)
            table.drop_top(window.add_older(page))
        elif next != window.top_cursor:
            # The page above no longer ends where the window starts (newer events came into
            # the newest page, or retention took some): start again from the newest.
            self.post_message(self.NewestWanted())
        else:
            dropped = window.add_newer(page)
            kept = table.events[: len(table.events) - dropped]
            table.replace([*items, *kept], shift=len(items))

    def clear(self) -> None:
        """No rows, and none waiting: the filter shown was refused."""
        self.pending.clear()
        self._paging = False
        self.window.reset(PageSpan(None, 0, None))
        self.table.show([])

    def forget_waiting(self) -> None:
        """The live events waiting are of a filter no longer shown."""
        self.pending.clear()

    def take_live(self, events: list[Event]) -> bool:
        """Live events: on top while the operator follows at the newest, else waiting. False
        when they are better shown by loading the newest page again."""
        if self.following and self.window.at_newest and self.table.at_top and not self.pending:
            return self._put_on_top(events)
        self.pending.extend(events)
        return True

    def show_new(self) -> bool:
        """The events waiting on top, the cursor on the newest. False when the newest are a
        reload away instead."""
        table = self.table
        pending, self.pending = self.pending, []
        held = self._put_on_top(pending)
        table.move_cursor(row=0, animate=False)
        table.scroll_home(animate=False)
        return held

    def _put_on_top(self, events: list[Event]) -> bool:
        # Rows are rebuilt to put live events on top; past a full window, reloading the first
        # page is cheaper, and the operator at the top does not miss the older pages (paging
        # brings them). Below dropped pages, the newest are a reload away too.
        table, window = self.table, self.window
        if (
            not window.at_newest
            or len(table.events) + len(events) > window.max_pages * self.page_size
        ):
            return False
        added = table.prepend(events)
        if added:
            window.grow_top(added)
        return True

    def shown(self, total: int | None) -> str:
        """Which events are held, of how many (`total`, when known)."""
        loaded, above = len(self.table.events), self.window.rows_above
        shown = f"{above + 1:,}-{above + loaded:,}" if above else f"{loaded:,}"
        of = f" of {total:,}" if total is not None else ""
        return f"{shown}{of} events"

    def advise(self, advice: str) -> None:
        """`advice` in place of the rows, when a page came (or the filter was refused) and
        there are none."""
        table = self.table
        empty = not table.events and bool(self.window.pages)
        self.query_one(EmptyState).show(advice if empty else None)
        table.set_class(empty, "-empty")

    @on(EventTable.NearEnd)
    def _near_end(self, message: EventTable.NearEnd) -> None:
        message.stop()
        older = self.window.older
        if older and not self._paging:
            self._paging = True
            self.post_message(self.PageWanted(Where.OLDER, older))

    @on(EventTable.NearStart)
    def _near_start(self, message: EventTable.NearStart) -> None:
        message.stop()
        if not self.window.at_newest and not self._paging:
            self._paging = True
            self.post_message(self.PageWanted(Where.NEWER, self.window.newer))

    @on(DataTable.RowHighlighted, "#events")
    def _row_highlighted(self) -> None:
        # Scrolling back to the newest row picks up what arrived meanwhile.
        if self.following and self.pending and self.window.at_newest and self.table.at_top:
            self.post_message(self.NewestWanted())

"""Which pages of the history are held: a window of consecutive pages, newest first.

The collector pages with opaque cursors, newest first. Each page held remembers the cursor it
was fetched with, so a page dropped at the top can be fetched again when the operator scrolls
back up; the next older page is fetched with the `next` of the last page held. Only counts
and cursors live here; the events themselves are the table's.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum, auto


class Where(Enum):
    """Where a page goes: it starts the window, or joins it below or above."""

    FIRST = auto()
    OLDER = auto()
    NEWER = auto()


@dataclass(slots=True)
class PageSpan:
    """One page held: fetched with `cursor` (None for the newest), `size` rows, and the cursor
    of the page after it (None at the end of the history)."""

    cursor: str | None
    size: int
    next: str | None


class PageWindow:
    def __init__(self, max_pages: int) -> None:
        if max_pages < 2:
            raise ValueError("a window needs two pages: one to show, one to load beside it")
        self.max_pages = max_pages
        self.pages: list[PageSpan] = []
        # Pages dropped at the top, nearest last, as (cursor, size): enough to fetch each
        # again and to say how many rows lie above the window.
        self._above: list[tuple[str | None, int]] = []
        self._rows_above = 0

    @property
    def at_newest(self) -> bool:
        """The window starts at the newest page: nothing newer was dropped."""
        return not self._above

    @property
    def rows_above(self) -> int:
        return self._rows_above

    @property
    def rows(self) -> int:
        return sum(page.size for page in self.pages)

    @property
    def older(self) -> str | None:
        """The cursor of the page below the window; None at the end of the history."""
        return self.pages[-1].next if self.pages else None

    @property
    def newer(self) -> str | None:
        """The cursor of the page above the window (None is the newest page's own cursor)."""
        return self._above[-1][0]

    @property
    def top_cursor(self) -> str | None:
        """The cursor the window's first page was fetched with."""
        return self.pages[0].cursor

    def fits(self, where: Where, cursor: str | None) -> bool:
        """Whether a page fetched with `cursor` to go `where` still joins the window: one asked
        for before the window moved (a reload, another page) no longer does."""
        if where is Where.FIRST:
            return True
        if where is Where.OLDER:
            return bool(self.pages) and cursor == self.older
        return not self.at_newest and cursor == self.newer

    def reset(self, page: PageSpan) -> None:
        self.pages = [page]
        self._above.clear()
        self._rows_above = 0

    def grow_top(self, rows: int) -> None:
        """Live events put on top of the newest page."""
        self.pages[0].size += rows

    def add_older(self, page: PageSpan) -> int:
        """`page` joins at the bottom; returns how many rows to drop at the top (0 if the
        window had room)."""
        self.pages.append(page)
        if len(self.pages) <= self.max_pages:
            return 0
        dropped = self.pages.pop(0)
        self._above.append((dropped.cursor, dropped.size))
        self._rows_above += dropped.size
        return dropped.size

    def add_newer(self, page: PageSpan) -> int:
        """`page`, fetched with `newer`, joins at the top; returns how many rows to drop at
        the bottom (0 if the window had room)."""
        _, size = self._above.pop()
        self._rows_above -= size
        self.pages.insert(0, page)
        if len(self.pages) <= self.max_pages:
            return 0
        return self.pages.pop().size

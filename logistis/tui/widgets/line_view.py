"""Read-only lines of text, one style a line, that only draw what is on screen.

A `Static` holding a 2,000-line object is measured and rendered whole on every update; this
view turns only the visible lines into strips (Textual's line API, as in its `Log`), so the
cost of showing a diff, a patch or an object does not grow with its length.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from textual.cache import LRUCache
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.selection import Selection
from textual.strip import Strip


class LineView(ScrollView, can_focus=True):
    """Scrolls with the keys of any scrollable container; text can be selected with the mouse."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.lines: list[str] = []
        self._styles: Sequence[Style] | None = None
        # Whole lines, uncropped: scrolling sideways crops the same strip again.
        self._strips: LRUCache[int, Strip] = LRUCache(1024)

    def show(self, lines: Iterable[str], styles: Sequence[Style] | None = None) -> None:
        """Replace the text: line `i` drawn in `styles[i]` over the widget's own style. The
        scroll position is kept as far as the new text allows."""
        # Block scalars of YAML may hold tabs; expanded here, the cell widths are right.
        self.lines = [line.expandtabs() if "\t" in line else line for line in lines]
        self._styles = styles
        self._strips.clear()
        width = max(map(cell_len, self.lines), default=0)
        self.virtual_size = Size(width, len(self.lines))
        self.refresh()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._strips.clear()  # the strips carry the widget's own colors

    def get_selection(self, selection: Selection) -> tuple[str, str] | None:
        return selection.extract("\n".join(self.lines)), "\n"

    def selection_updated(self, selection: Selection | None) -> None:
        self._strips.clear()
        self.refresh()

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        index = scroll_y + y
        width = self.scrollable_content_region.width
        # The widget's own style as Textual caches it until its styles change (`rich_style`
        # walks every ancestor's styles again at each call).
        base = self.visual_style.rich_style
        if index >= len(self.lines):
            return Strip.blank(width, base)
        strip = self._strips.get(index)
        if strip is None:
            strip = self._strips[index] = self._strip(index, base)
        cropped = strip.crop_extend(scroll_x, scroll_x + width, base)
        return cropped.apply_offsets(scroll_x, index)  # where the mouse is, for selecting

    def _strip(self, index: int, base: Style) -> Strip:
        text = self.lines[index]
        style = base if self._styles is None else base + self._styles[index]
        span = self.text_selection.get_span(index) if self.text_selection else None
        if span is None:
            return Strip([Segment(text, style)], cell_len(text))
        start, end = span
        end = len(text) if end == -1 else end
        selected = style + self.screen.get_component_rich_style("screen--selection")
        parts = [(text[:start], style), (text[start:end], selected), (text[end:], style)]
        return Strip([Segment(part, s) for part, s in parts if part], cell_len(text))

"""kubectl-style tables: upper-case headers, columns three spaces apart, no borders.

A cell may hold several lines (an event's patch operations); the row then continues on the
next lines with the other cells blank. When the terminal is narrower than the table, the
columns marked `shrink` give up width, widest first, and their text ends in `…`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from logistis.kubectl.terminal import Style, Terminal, clip, clip_left, columns_of

GAP = "   "

Cell = str | Sequence[str]


@dataclass(frozen=True, slots=True)
class Column:
    title: str
    shrink: bool = False
    keep_end: bool = False  # cut from the left: the end of a service account name says most
    min_width: int = 8
    cap: int | None = None  # when the table is too wide, cut this column to here first
    style: Callable[[str], Style | None] | None = None


def render_table(
    columns: Sequence[Column],
    rows: Sequence[Sequence[Cell]],
    terminal: Terminal,
    *,
    gap: str = GAP,
    headers: bool = True,
) -> list[str]:
    """The table's lines; columns without titles get no header line, nor does
    `headers=False` (kubectl's `--no-headers`)."""
    cells = [[[cell] if isinstance(cell, str) else list(cell) for cell in row] for row in rows]
    widths = _fit(columns, _natural_widths(columns, cells), terminal.width, len(gap))
    titles = [c.title for c in columns]
    shown = headers and any(titles)
    lines = [_line(columns, widths, titles, terminal, gap, header=True)] if shown else []
    for row in cells:
        for index in range(max((len(cell) for cell in row), default=1)):
            texts = [cell[index] if index < len(cell) else "" for cell in row]
            lines.append(_line(columns, widths, texts, terminal, gap))
    return lines


def _natural_widths(columns: Sequence[Column], cells: list[list[list[str]]]) -> list[int]:
    widths = [len(column.title) for column in columns]
    for row in cells:
        for index, cell in enumerate(row):
            widths[index] = max(widths[index], *(columns_of(text) for text in cell), 0)
    return widths


def _fit(columns: Sequence[Column], widths: list[int], limit: int | None, gap: int) -> list[int]:
    if limit is None:
        return widths
    widths = list(widths)
    overflow = sum(widths) + gap * (len(widths) - 1) - limit
    for index, column in enumerate(columns):
        if overflow > 0 and column.cap is not None and widths[index] > column.cap:
            give = min(overflow, widths[index] - column.cap)
            widths[index] -= give
            overflow -= give
    while overflow > 0:
        shrinkable = [i for i, c in enumerate(columns) if c.shrink and widths[i] > c.min_width]
        if not shrinkable:
            break
        widest = max(shrinkable, key=lambda i: widths[i])
        give = min(overflow, widths[widest] - columns[widest].min_width)
        widths[widest] -= give
        overflow -= give
    return widths


def _line(
    columns: Sequence[Column],
    widths: list[int],
    texts: list[str],
    terminal: Terminal,
    gap: str,
    *,
    header: bool = False,
) -> str:
    parts = []
    for index, (column, width, text) in enumerate(zip(columns, widths, texts, strict=True)):
        cut = clip_left(text, width) if column.keep_end else clip(text, width)
        style = Style.BOLD if header else (column.style(text) if column.style else None)
        padding = "" if index == len(columns) - 1 else " " * (width - columns_of(cut))
        parts.append(terminal.paint(cut, style) + padding)
    # When even the narrowest columns do not fit, the line is cut at the terminal's edge.
    return terminal.fit(gap.join(parts).rstrip())

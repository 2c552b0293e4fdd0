"""The event list's columns fitted to its width: what changed always on screen.

Each column is as wide as its widest value within its bounds; `changes` takes the rest. When
that leaves `changes` less than its share (a quarter of the width, or its widest value if
shorter), `manager` goes first, then `object` and `user` narrow toward their least widths. Widths follow the rows shown, so no toggle (`p`, a filter) leaves a column
wider than its values.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from rich.text import Text

# DataTable's cell padding, one cell on each side of every column.
PADDING = 2


@dataclass(frozen=True, slots=True)
class Column:
    key: str
    label: str
    least: int
    most: int
    optional: bool = False
    # Names keep both ends when cut (`sa:kub…ment-controller`, `Deplo…team-a/frontend`): their
    # start says what, their end, given more room, which one.
    cut_middle: bool = False


COLUMNS = (
    Column("time", "time", 7, 19),
    Column("operation", "op", 6, 12),
    Column("user", "user", 8, 40, cut_middle=True),
    Column("object", "object", 18, 60, cut_middle=True),
    Column("manager", "manager", 8, 24, optional=True),
    Column("changes", "changes", 16, 10_000),
)
BY_KEY = {column.key: column for column in COLUMNS}
CHANGES = BY_KEY["changes"]
# Narrowed in this order, one cell at a time, the widest first.
NARROWED = ("object", "user")

Widths = dict[str, int]


def natural_widths(rows: Iterable[Mapping[str, str]]) -> Widths:
    """The widest value of each column over `rows` (and its label), within its bounds."""
    widths = {c.key: len(c.label) for c in COLUMNS}
    for row in rows:
        for key, value in row.items():
            widths[key] = max(widths[key], len(value))
    return {c.key: min(max(widths[c.key], c.least), c.most) for c in COLUMNS}


def fit(width: int, natural: Widths) -> Widths:
    """The columns shown and their widths in a table `width` cells wide."""
    share = max(CHANGES.least, min(natural[CHANGES.key], width // 4))
    widths = {key: w for key, w in natural.items() if key != CHANGES.key}
    if _rest(width, widths) < share:
        widths = {key: w for key, w in widths.items() if not BY_KEY[key].optional}
    while _rest(width, widths) < share:
        slack = [k for k in NARROWED if widths[k] > BY_KEY[k].least]
        if not slack:
            break  # narrower than every least width: the table scrolls sideways
        widest = max(slack, key=lambda k: widths[k] - BY_KEY[k].least)
        widths[widest] -= 1
    widths[CHANGES.key] = max(_rest(width, widths), CHANGES.least)
    return widths


def _rest(width: int, widths: Widths) -> int:
    return width - sum(w + PADDING for w in widths.values()) - PADDING


def cut(text: Text, width: int, *, middle: bool = False) -> Text:
    """`text` in `width` cells, its end (or its middle) replaced by `…` when it is longer."""
    if text.cell_len <= width:
        return text
    if middle and width > 2:
        head = width // 3
        tail = width - 1 - head
        return Text.assemble(text[:head], ("…", text.style), text[len(text) - tail :])
    end = text.copy()
    end.truncate(width, overflow="ellipsis")
    return end

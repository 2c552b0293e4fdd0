"""Where output goes and how it may look: color only on a terminal, never with `NO_COLOR`
or `--no-color`; lines cut to the terminal's width when there is one (or `COLUMNS` says so).
"""

from __future__ import annotations

import os
import shutil
import sys
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import TextIO


class Style(StrEnum):
    ADD = "32"
    REMOVE = "31"
    HEADER = "1;33"
    ELISION = "36"
    DIM = "2"
    BOLD = "1"
    CREATE = "32"
    UPDATE = "33"
    DELETE = "31"
    WARN = "1;35"


OPERATION_STYLES = {"CREATE": Style.CREATE, "UPDATE": Style.UPDATE, "DELETE": Style.DELETE}

ELLIPSIS = "…"


@dataclass(slots=True)
class Terminal:
    out: TextIO
    err: TextIO
    color: bool = False
    width: int | None = None  # None: never cut lines (output to a pipe or file)

    @classmethod
    def detect(
        cls,
        *,
        no_color: bool = False,
        out: TextIO | None = None,
        err: TextIO | None = None,
        environ: Mapping[str, str] = os.environ,
    ) -> Terminal:
        out = out or sys.stdout
        tty = out.isatty()
        color = tty and not no_color and "NO_COLOR" not in environ and environ.get("TERM") != "dumb"
        return cls(out, err or sys.stderr, color, _width(tty, environ))

    def paint(self, text: str, style: Style | None) -> str:
        if not self.color or style is None or not text:
            return text
        return f"\x1b[{style.value}m{text}\x1b[0m"

    def fit(self, text: str, reserved: int = 0) -> str:
        """`text` cut to the width left after `reserved` columns, ending in `…` if cut."""
        if self.width is None:
            return text
        return clip(text, max(self.width - reserved, 1))

    def write(self, line: str = "") -> None:
        self.out.write(line + "\n")


def columns_of(text: str) -> int:
    """The columns `text` takes on a terminal: a wide character (the hand-edit mark `✋`)
    takes two."""
    return sum(2 if unicodedata.east_asian_width(c) in WIDE else 1 for c in text)


WIDE = ("W", "F")


def clip(text: str, width: int) -> str:
    return text if columns_of(text) <= width else text[: max(width - 1, 0)] + ELLIPSIS


def clip_left(text: str, width: int) -> str:
    """Cut from the left, keeping the end: `…deployment-controller`."""
    return text if columns_of(text) <= width else ELLIPSIS + text[len(text) - width + 1 :]


def _width(tty: bool, environ: Mapping[str, str]) -> int | None:
    columns = environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    return shutil.get_terminal_size().columns if tty else None

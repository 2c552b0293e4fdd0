"""One mark of the event list up close: what it means, its fields, period and reason."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from logistis.client.marks import Explanation

FOOTNOTE = "docs/trust.md tells more. escape closes."


class MarkScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,enter", "dismiss", "Close")]

    def __init__(self, explanation: Explanation) -> None:
        super().__init__()
        self.explanation = explanation

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="mark"):
            yield Static(self._text(), id="mark-text")

    def _text(self) -> Text:
        text = Text()
        for heading, body in self.explanation:
            text.append(f"{heading}\n", style="bold")
            text.append(f"{body}\n\n")
        text.append(FOOTNOTE, style="dim")
        return text

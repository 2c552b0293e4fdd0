"""Textual's footer, rebuilt only when the keys it shows change.

Textual's `Footer` removes and mounts all its keys again each time its screen refreshes its
bindings. Pushing a screen does that three times on the new screen (focus, stack, after its
first refresh) and once on the screen below, all with the same keys: 10-40 ms each, spent
while the new screen's content waits to be drawn. And each of its keys is mounted compact
and told otherwise by the footer right after: two style updates of every key for nothing.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

Keys = tuple[tuple[str, Binding, bool, str], ...]


class KeyFooter(Footer):
    def __init__(self) -> None:
        super().__init__()
        self._drawn: Keys | None = None

    async def recompose(self) -> None:
        if not self.is_attached:  # a rebuild queued before the screen closed
            return
        # Footer.compose draws these and nothing else (the key display follows the binding).
        keys = tuple(
            (key, active.binding, active.enabled, active.tooltip)
            for key, active in self.screen.active_bindings.items()
        )
        if keys == self._drawn:
            return
        self._drawn = keys
        await super().recompose()

    def compose(self) -> ComposeResult:
        for widget in super().compose():
            # The keys bound to the footer's setting (all but the palette's, which stays compact)
            # mounted with it rather than told it after: styled once, not three times.
            if isinstance(widget, FooterKey) and not widget.has_class("-command-palette"):
                widget.set_reactive(FooterKey.compact, self.compact)
            yield widget

"""Textual's footer, rebuilt only when the keys it shows change.

Textual's `Footer` removes and mounts all its keys again each time its screen refreshes its
bindings. Pushing a screen does that three times on the new screen (focus, stack, after its
first refresh) and once on the screen below, all with the same keys: 10-40 ms each, spent
while the new screen's content waits to be drawn.
"""

from __future__ import annotations

from textual.binding import Binding
from textual.widgets import Footer

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

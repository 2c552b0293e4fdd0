"""Textual's footer, drawn with its screen and rebuilt only when the keys it shows change.

Textual's `Footer` draws nothing until its screen's focus has settled, then mounts its keys
in a layout of their own; afterwards it removes and mounts all its keys again each time its
screen refreshes its bindings. Pushing a screen does that three times on the new screen
(focus, stack, after its first refresh) and once on the screen below, all with the same keys:
10-40 ms each, spent while the new screen's content waits to be drawn. And each of its keys
is mounted compact and told otherwise by the footer right after: two style updates of every
key for nothing.
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
        # The keys shown are the screen's and the app's, known when the screen composes (the
        # focused widget's are hidden ones): drawn in the screen's first layout.
        self.set_reactive(Footer._bindings_ready, True)

    def _keys(self) -> Keys:
        """What Footer.compose draws (the key display follows the binding)."""
        palette = self.app.COMMAND_PALETTE_BINDING
        return tuple(
            (key, active.binding, active.enabled, active.tooltip)
            for key, active in self.screen.active_bindings.items()
            if active.binding.show or key == palette
        )

    async def recompose(self) -> None:
        if not self.is_attached:  # a rebuild queued before the screen closed
            return
        if self._keys() != self._drawn:
            await super().recompose()

    def compose(self) -> ComposeResult:
        self._drawn = self._keys()
        for widget in super().compose():
            # The keys bound to the footer's setting (all but the palette's, which stays compact)
            # mounted with it rather than told it after: styled once, not three times.
            if isinstance(widget, FooterKey) and not widget.has_class("-command-palette"):
                widget.set_reactive(FooterKey.compact, self.compact)
            yield widget

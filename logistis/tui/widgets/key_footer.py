"""The keys of the screen, one line at the bottom, with `? Help` and the command palette
pinned at the right: a narrow terminal cuts the screen's own keys, never the way to all of
them.

Drawn with its screen, from the keys known when the screen composes, and built again only when
the keys shown change: Textual's `Footer` draws nothing until its screen's focus has settled,
then removes and mounts all its keys each time the screen refreshes its bindings (three times
while a screen is pushed, all with the same keys, 10-40 ms each).
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.cells import cell_len
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widget import Widget

# The keys that lead to every other one, in the order they are pinned.
PINNED = ("help", "command_palette")


@dataclass(frozen=True, slots=True)
class Key:
    key: str
    display: str
    description: str
    action: str
    enabled: bool
    tooltip: str


class FooterKey(Widget):
    """One key and what it does; a click presses it."""

    COMPONENT_CLASSES = {"footer-key--key", "footer-key--description"}

    def __init__(self, key: Key) -> None:
        # The palette's key is drawn compact and set apart, as Textual's footer draws it.
        compact = key.action == "command_palette"
        super().__init__()
        self.set_class(not key.enabled, "-disabled")
        self.set_class(compact, "-command-palette")
        self.key = key
        self.description = key.description
        if key.tooltip:
            self.tooltip = key.tooltip
        self.parts = (
            (key.display, f" {key.description}")
            if compact
            else (f" {key.display} ", f"{key.description} ")
        )
        self.cells = cell_len("".join(self.parts))

    def render(self) -> Text:
        key, description = self.parts
        return Text.assemble(
            (key, self.get_component_rich_style("footer-key--key")),
            (description, self.get_component_rich_style("footer-key--description")),
        )

    def on_click(self) -> None:
        if self.key.enabled:
            self.app.simulate_key(self.key.key)
        else:
            self.app.bell()


class KeyRow(Horizontal):
    """The screen's own keys, in their order: those that do not fit whole are left out."""

    def on_resize(self) -> None:
        room = self.size.width
        for key in self.query_children(FooterKey):
            key.display = key.cells <= room
            room = room - key.cells if key.display else 0


class KeyFooter(Widget):
    """The screen's keys, then the pinned ones."""

    def __init__(self) -> None:
        super().__init__()
        self.drawn: tuple[Key, ...] = ()

    def keys(self) -> tuple[Key, ...]:
        """The keys shown: one per action, as the screen binds them now."""
        palette = self.app.COMMAND_PALETTE_BINDING
        shown: dict[str, Key] = {}
        for name, active in self.screen.active_bindings.items():
            binding = active.binding
            if (binding.show or name == palette) and binding.action not in shown:
                shown[binding.action] = Key(
                    binding.key,
                    self.app.get_key_display(binding),
                    binding.description,
                    binding.action,
                    active.enabled,
                    active.tooltip or binding.tooltip,
                )
        return tuple(shown.values())

    def compose(self) -> ComposeResult:
        self.drawn = self.keys()
        with KeyRow(id="footer-keys"):
            for key in self.drawn:
                if key.action not in PINNED:
                    yield FooterKey(key)
        for action in PINNED:
            yield from (FooterKey(key) for key in self.drawn if key.action == action)

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def _bindings_changed(self, screen: Screen[object]) -> None:
        if self.is_attached and self.keys() != self.drawn:
            self.call_after_refresh(self._rebuild)

    async def _rebuild(self) -> None:
        # Checked again: a rebuild queued before the screen closed, or one already done.
        if self.is_attached and self.keys() != self.drawn:
            await self.recompose()

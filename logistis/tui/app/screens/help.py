"""The help screen: what logistis shows, and every key of the screen it was opened from."""

from __future__ import annotations

from collections.abc import Mapping

from textual.app import ComposeResult
from textual.binding import ActiveBinding, Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Markdown

INTRO = """\
# logistis

Every write the cluster admitted: who changed what, where, when and how.

- **People first**: machine identities (`system:*`: controllers, the apiserver, service
  accounts) are hidden until you press `p`; the status line says how many.
- **Live**: new events appear at the top while you follow; scrolled away or paused (`f`),
  they are counted instead, and `g` shows them.
- **Diff**: `enter` on an event shows its YAML diff, JSON patch and the object;
  `m` there shows the noise (`managedFields`, `resourceVersion`, ...).
- The command palette (`ctrl+p`) runs every action by name.

| key | action |
|---|---|
"""


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "Close")]

    def __init__(self, bindings: Mapping[str, ActiveBinding]) -> None:
        super().__init__()
        self._bindings = bindings

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help"):
            yield Markdown(INTRO + "\n".join(self._rows()))

    def _rows(self) -> list[str]:
        seen: set[str] = set()
        rows = []
        for active in self._bindings.values():
            binding: Binding = active.binding
            if binding.description and binding.action not in seen:
                seen.add(binding.action)
                key = active.node.app.get_key_display(binding)
                rows.append(f"| `{key}` | {binding.description} |")
        return rows

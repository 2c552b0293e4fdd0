"""The help screen: every key of the app, the screen it was opened from first, then what
logistis shows."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Markdown

ABOUT = """\
## What logistis shows

Every write the cluster admitted: who changed what, where, when and how.

- **People first**: machine identities (`system:*`: controllers, the apiserver, service
  accounts) are hidden until you press `p`; the status line says how many.
- **Live**: new events appear at the top while you follow; scrolled away or paused (`f`),
  they are counted instead, and `g` shows them.
- **Diff**: `enter` on an event shows its YAML diff, JSON patch, the object and who last
  changed each of its lines; `m` there shows the noise (`managedFields`, `resourceVersion`).
- **Marks** (`⋯ unrecorded`, `⋯ blind spot`, `✗ never landed`): where the recorded history is
  not whole; `enter` on one says what it means.
- **Hand edits** of what Argo CD, Flux or Helm manages: `✋` one that stuck, `✋↩` one the
  tool put back, `↩` the tool's write that put it back; `h` shows only hand edits, `v` goes
  from a hand edit to its put-back and back; `/` takes `hand:true`, `actor:person`,
  `tool:argocd`, `managed:flux`. The diff's header says who acted, what manages the object
  and the revision a GitOps write came from.
- The command palette (`ctrl+p`) runs every action by name.
"""


@dataclass(frozen=True, slots=True)
class KeyGroup:
    """The keys of one screen (or of the whole app), each action once with all its keys."""

    title: str
    rows: tuple[tuple[str, str], ...]

    @classmethod
    def of(cls, title: str, bindings: Iterable[BindingType], app: App[Any]) -> KeyGroup:
        keys: dict[tuple[str, str], list[str]] = {}
        for binding in Binding.make_bindings(bindings):
            if binding.description:
                shown = app.get_key_display(binding)
                keys.setdefault((binding.action, binding.description), []).append(shown)
        return cls(title, tuple((" ".join(k), d) for (_, d), k in keys.items()))

    def markdown(self) -> str:
        rows = [f"| `{key}` | {description} |" for key, description in self.rows]
        return "\n".join([f"## {self.title}", "", "| key | action |", "|---|---|", *rows, ""])


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark,f1", "dismiss", "Close")]

    def __init__(self, groups: Sequence[KeyGroup]) -> None:
        super().__init__()
        self.groups = groups

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help"):
            yield Markdown("\n".join([*(g.markdown() for g in self.groups), ABOUT]))

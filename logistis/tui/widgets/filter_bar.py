"""The filter bar: shows the active filters, edits them, completes values from the facets."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.message import Message
from textual.reactive import reactive
from textual.suggester import Suggester
from textual.widgets import Input, Label

from logistis.client.events import EventFilter, Facets
from logistis.tui.filter_syntax import CHOICES, KEYS, unparse

PLACEHOLDER = "/ filter: user:alice kind:Deployment ns:team-a op:update since:2h text"


class FacetSuggester(Suggester):
    """Completes the word being typed: a filter key, or a value the collector has seen."""

    def __init__(self) -> None:
        super().__init__(use_cache=False, case_sensitive=True)
        self.facets: Facets | None = None

    async def get_suggestion(self, value: str) -> str | None:
        word = value.rpartition(" ")[2]
        key, sep, partial = word.partition(":")
        if not sep:
            return _complete(value, word, [f"{k}:" for k in KEYS])
        return _complete(value, partial, self._values(KEYS.get(key.lower(), "")))

    def _values(self, field: str) -> list[str]:
        facets = self.facets
        if facets is None:
            return []
        by_field = {
            "user": [u.value for u in facets.users],
            "kind": sorted({k.kind for k in facets.kinds}),
            "group": sorted({k.group for k in facets.kinds if k.group}),
            "namespace": [n.value for n in facets.namespaces if n.value],
            "operation": [o.value for o in facets.operations],
        }
        # The few values of the others are known without asking (op: from the history).
        return by_field.get(field) or [value.lower() for value in CHOICES.get(field, ())]


def _complete(value: str, partial: str, candidates: list[str]) -> str | None:
    if not partial:
        return None
    lowered = partial.lower()
    for candidate in candidates:
        if candidate.lower().startswith(lowered) and candidate != partial:
            return value + candidate[len(partial) :]
    return None


class FilterBar(Horizontal):
    class Submitted(Message):
        """The operator pressed enter on a filter text (parsed by the screen)."""

        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    filter: reactive[EventFilter] = reactive(EventFilter(), init=False)
    # Why the text in the bar was not applied; shown in place until the text changes.
    error: reactive[str | None] = reactive(None, init=False)

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.suggester = FacetSuggester()
        self._refused = ""

    def compose(self) -> ComposeResult:
        yield Label("filters", id="filter-label")
        yield Input(placeholder=PLACEHOLDER, suggester=self.suggester, id="filter-input")
        yield Label("", id="filter-error", markup=False)

    def watch_filter(self, filter: EventFilter) -> None:
        self.query_one(Input).value = unparse(filter)
        self.set_class(bool(filter.active()), "-active")

    def watch_error(self, error: str | None) -> None:
        self.query_one("#filter-error", Label).update(f"✖ {error}" if error else "")
        self.set_class(error is not None, "-invalid")

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        if self.error is not None and event.value != self._refused:
            self.error = None

    def refuse(self, text: str, reason: str) -> None:
        """`text` was not applied: it stays in the bar, with `reason`, until it is changed."""
        self._refused = text
        self.query_one(Input).value = text
        self.error = reason

    def edit(self) -> None:
        self.query_one(Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.post_message(self.Submitted(event.value))

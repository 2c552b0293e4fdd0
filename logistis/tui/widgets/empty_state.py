"""What the event list says when it has no rows: why, and the key or step that helps."""

from __future__ import annotations

from textual.widgets import Static

from logistis.client.events import EventFilter
from logistis.tui.filter_syntax import unparse

EMPTY_HISTORY = """\
No change recorded yet.
Point the cluster's webhook at this collector: kubectl apply -k manifests/ installs the \
ValidatingWebhookConfiguration that sends it every write (docs/deploy.md).
Or try make demo: a local collector with two weeks of history."""


def advice(filter: EventFilter, refusal: str | None, hidden: int | None) -> str:
    """The text for an empty list under `filter`: refused, nothing matches, or no history."""
    if refusal is not None:
        return f"✖ {refusal}\nThis filter was not applied: / to fix it, x to clear the filters."
    if filter.active():
        hiding = filter.people and hidden != 0  # unknown yet, or some are hidden
        people = " (machine identities hidden: p shows them)" if hiding else ""
        return f"Nothing matches {unparse(filter)}{people}.\nx clears the filters, / edits them."
    if filter.people and hidden:
        return f"No person changed anything yet: p shows the {hidden:,} machine events."
    return EMPTY_HISTORY


class EmptyState(Static):
    def show(self, text: str | None) -> None:
        """`text` in place of the rows, or nothing when there are rows."""
        self.update(text or "")
        self.set_class(text is not None, "-shown")

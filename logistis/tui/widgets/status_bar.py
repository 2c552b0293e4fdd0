"""One line that always says how things stand: the link, the view, what is hidden or new."""

from __future__ import annotations

from textual.reactive import reactive
from textual.widgets import Static

from logistis.client.live import LinkState, LinkStatus


class StatusBar(Static):
    link: reactive[LinkStatus] = reactive(LinkStatus(LinkState.CONNECTING))
    people_only: reactive[bool] = reactive(True)
    hidden: reactive[int | None] = reactive(None)
    following: reactive[bool] = reactive(True)
    new: reactive[int] = reactive(0)
    shown: reactive[str] = reactive("")

    def watch_link(self, link: LinkStatus) -> None:
        for state in LinkState:
            self.set_class(link.state == state, f"-{state.value}")

    def render(self) -> str:
        full = "  ·  ".join(part for part in self._parts(short=False) if part)
        if len(full) <= self.content_size.width or not self.content_size.width:
            return full
        # A narrow terminal: the same parts in fewer words, so the counts stay on screen.
        return " · ".join(part for part in self._parts(short=True) if part)

    def _parts(self, *, short: bool) -> list[str]:
        return [
            self._link_text(),
            self._view_text(short),
            self.shown,
            self._follow_text(short),
        ]

    def _link_text(self) -> str:
        link = self.link
        if link.state == LinkState.RECONNECTING:
            return f"● reconnecting in {link.retry_in:g}s: {link.reason}"
        if link.state == LinkState.FAILED and link.retry_in:
            # When comes first: a narrow terminal cuts the reason, not the next try.
            return f"✖ failed, next try in {link.retry_in:g}s (R: now): {link.reason}"
        if link.state == LinkState.FAILED:
            return f"✖ failed: {link.reason}"
        return f"● {link.state.value}"

    def _view_text(self, short: bool) -> str:
        if not self.people_only:
            return "everything (p)" if short else "everything (p: people only)"
        hidden = "…" if self.hidden is None else f"{self.hidden:,}"
        if short:
            return f"people only, {hidden} hidden (p)"
        return f"people only, {hidden} machine events hidden (p: everything)"

    def _follow_text(self, short: bool) -> str:
        if self.new:
            return f"{self.new} new (g)" if short else f"{self.new} new (g: show)"
        if self.following:
            return "following"
        return "paused (f)" if short else "paused (f: follow)"

"""How events read in the terminal: times, operations, users, summaries.

Colors come from the running theme (`Palette.of(app.current_theme)`), so the same code reads
well on dark and light themes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from rich.style import Style
from rich.text import Text
from textual.theme import Theme

from logistis.client.diff import DiffKind, summarize_changes
from logistis.client.events import Event

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Palette:
    create: Style
    update: Style
    delete: Style
    muted: Style
    accent: Style

    @classmethod
    def of(cls, theme: Theme) -> Palette:
        return cls(
            create=Style(color=theme.success, bold=True),
            update=Style(color=theme.warning, bold=True),
            delete=Style(color=theme.error, bold=True),
            muted=Style(dim=True),
            accent=Style(color=theme.accent or theme.primary),
        )

    def operation(self, operation: str) -> Style:
        return {"CREATE": self.create, "UPDATE": self.update, "DELETE": self.delete}.get(
            operation, self.accent
        )

    def diff(self, kind: DiffKind) -> Style:
        return {
            DiffKind.ADD: self.create,
            DiffKind.REMOVE: self.delete,
            DiffKind.ELISION: self.muted,
            DiffKind.HEADER: self.accent,
        }.get(kind, Style())


def relative_time(moment: datetime, now: datetime) -> str:
    """`just now`, `42s ago`, `5m ago`, `3h ago`, `2d ago`: the unit kubectl's AGE column uses."""
    seconds = int((now - moment).total_seconds())
    if seconds < 5:
        return "just now"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit} ago"
    return f"{seconds}s ago"


def absolute_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def event_time(event: Event, now: datetime, *, absolute: bool) -> str:
    return absolute_time(event.time) if absolute else relative_time(event.time, now)


def operation_text(event: Event, palette: Palette) -> Text:
    label = event.operation + (" (dry)" if event.dry_run else "")
    return Text(label, style=palette.operation(event.operation))


def user_text(username: str, palette: Palette) -> Text:
    """The identity shortened, dimmed when it is a machine's."""
    machine = username.startswith("system:")
    return Text(short_identity(username), style=palette.muted if machine else Style())


def short_identity(username: str) -> str:
    """`sa:kube-system/deployment-controller` for `system:serviceaccount:kube-system:deployment-
    controller`, `node:worker-1` for `system:node:worker-1`; other names as they are."""
    namespace, sep, name = username.removeprefix(SERVICE_ACCOUNT).partition(":")
    if username.startswith(SERVICE_ACCOUNT) and sep:
        return f"sa:{namespace}/{name}"
    return username.removeprefix("system:") if username.startswith(NODE) else username


SERVICE_ACCOUNT, NODE = "system:serviceaccount:", "system:node:"


def object_label(event: Event) -> str:
    """`Deployment team-a/nginx`, `Deployment/scale team-a/nginx`."""
    return f"{kind_label(event)} {event.reference}"


def kind_label(event: Event) -> str:
    subresource = event.resource.subresource
    return f"{event.kind}/{subresource}" if subresource else event.kind


def change_summary(event: Event) -> str:
    return summarize_changes(event.changes_json())

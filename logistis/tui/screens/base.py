"""What every screen of the app shares: worker failures are reported, never lost."""

from __future__ import annotations

from typing import ClassVar

from textual.screen import Screen, ScreenResultType
from textual.worker import Worker

from logistis.tui.failures import report_worker_failure


class WorkingScreen(Screen[ScreenResultType]):
    HELP_TITLE: ClassVar[str] = ""
    """The heading of this screen's keys in help."""

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        report_worker_failure(self.app, event.worker)

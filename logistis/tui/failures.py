"""Worker failures become notifications: one place decides how a failed load is shown."""

from __future__ import annotations

from typing import Any

from textual.app import App
from textual.worker import Worker, WorkerState

from logistis.client.protocol import CollectorError


def report_worker_failure(app: App[Any], worker: Worker[object]) -> None:
    if worker.state != WorkerState.ERROR or worker.error is None:
        return
    error = worker.error
    # Expected failures say what happened in one line; anything else names its type too.
    text = str(error) if isinstance(error, CollectorError) else f"{type(error).__name__}: {error}"
    title = worker.description or worker.name or "background task"
    app.notify(text.splitlines()[0] if text else title, title=title, severity="error", timeout=8)

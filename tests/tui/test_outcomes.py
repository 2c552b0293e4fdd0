"""Which shown events a live event may have decided the outcome of (logistis.client)."""

from __future__ import annotations

from dataclasses import replace

from logistis.client.events import awaiting_outcome
from tests.blame.conftest import nginx_history


def test_the_newest_shown_write_to_the_object_waits_for_its_outcome() -> None:
    *earlier, latest = nginx_history()
    shown = earlier[::-1]  # as the table holds them: newest first
    assert shown[0].applied is None
    assert awaiting_outcome(shown, [latest]) == [shown[0]]
    # A write to the object through a subresource decides it as well.
    scale = replace(latest, resource=replace(latest.resource, subresource="scale"))
    assert awaiting_outcome(shown, [scale]) == [shown[0]]


def test_nothing_waits_once_decided_or_for_another_object() -> None:
    *earlier, latest = nginx_history()
    shown = earlier[::-1]
    decided = [replace(shown[0], applied=True), *shown[1:]]
    assert awaiting_outcome(decided, [latest]) == []
    assert awaiting_outcome(shown, [replace(latest, name="other")]) == []
    assert awaiting_outcome(shown, [shown[3]]) == [shown[4]]

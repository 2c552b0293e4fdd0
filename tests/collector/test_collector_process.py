"""The suite's own collector process: a port it picked, taken by another process before the
collector could bind it (parallel workers pick free ports at the same time), is picked again
instead of failing the test that started it."""

from __future__ import annotations

import socket
from pathlib import Path

from tests.support.collector import CollectorProcess


def test_a_port_taken_before_the_start_is_picked_again(tmp_path: Path) -> None:
    collector = CollectorProcess(tmp_path / "data")
    taken = collector.webhook_port
    with socket.socket() as other:
        other.bind(("127.0.0.1", taken))
        other.listen()
        with collector:
            assert collector.webhook_port != taken
            with collector.client() as client:
                assert client.get("/readyz").status_code == 200
    assert "address already in use" in collector.log.read_text().lower()

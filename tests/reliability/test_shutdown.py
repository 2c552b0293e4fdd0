"""SIGTERM under load: in-flight requests finish, everything acknowledged is committed; a
review whose body arrives after the SIGTERM is answered and recorded too."""

from __future__ import annotations

import asyncio
import json
import signal
import ssl
import time
import uuid
from pathlib import Path

from tests.support.collector import CollectorProcess, wait_for, webhook_socket
from tests.support.fixtures import bodies

from .load import PATIENT, Load, database, integrity, stored_uids


async def test_sigterm_under_load_flushes_everything_acknowledged(tmp_path: Path) -> None:
    collector = CollectorProcess(tmp_path / "data", *PATIENT).start()
    load = Load(collector, workers=32)
    running = asyncio.create_task(load.run())
    await asyncio.sleep(1.0)
    # SIGTERM from a thread: the load keeps going on this loop while the collector drains.
    code = await asyncio.to_thread(collector.stop)
    await running
    assert code == 0
    assert load.acknowledged
    assert load.denied == 0
    db = database(collector)
    # The last connection checkpointed and removed the WAL: nothing is left half-applied.
    assert not db.with_name(db.name + "-wal").exists()
    assert integrity(db) == "ok"
    assert load.acknowledged <= stored_uids(db)


def test_a_review_whose_body_comes_after_sigterm_is_answered_and_recorded(tmp_path: Path) -> None:
    # Its head came before the stop, its body after: aiohttp's shutdown drops what a
    # connection receives, so the collector waits for the reviews in flight before it.
    collector = CollectorProcess(tmp_path / "data", "--drain-seconds", "0").start()
    review = next(b for b in bodies() if not b["request"].get("dryRun"))
    uid = str(uuid.uuid4())
    body = json.dumps({**review, "request": {**review["request"], "uid": uid}}).encode()
    head = (
        "POST /validate?timeout=10s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    with webhook_socket(collector, timeout=15) as tls:
        tls.sendall(head.encode())
        time.sleep(0.3)  # its handler has the head, and waits for the body
        assert collector.process is not None
        collector.process.send_signal(signal.SIGTERM)
        assert wait_for(lambda: "shutting down" in collector.log.read_text(), 10)
        tls.sendall(body)
        answer = _response(tls)
    assert answer.startswith(b"HTTP/1.1 200 ")
    assert json.loads(answer.partition(b"\r\n\r\n")[2])["response"]["allowed"] is True
    assert collector.process.wait(30) == 0
    assert uid in stored_uids(database(collector))


def _response(tls: ssl.SSLSocket) -> bytes:
    """One whole HTTP/1.1 response with a Content-Length."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += tls.recv(65536)
    head, _, rest = data.partition(b"\r\n\r\n")
    length = int(
        next(
            line for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")
        ).split(b":")[1]
    )
    while len(rest) < length:
        rest += tls.recv(65536)
    return head + b"\r\n\r\n" + rest

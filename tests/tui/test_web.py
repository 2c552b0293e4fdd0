"""`logistis-tui --web` in a real headless Chromium: the page loads, shows the event list from
a real collector, and a key pressed in the browser reaches the app (`i` opens the insights).

Chromium is driven through its DevTools protocol on a loopback port; every name but 127.0.0.1
resolves to nothing, so the page's web font link goes nowhere. The text the app sends is read
off the page's WebSocket, as xterm.js draws it on a canvas.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from base64 import b64decode
from collections.abc import Iterator
from itertools import count
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import pytest

from tests.support.collector import CollectorProcess, free_port

CHROMIUM = shutil.which("chromium")
TUI = Path(sys.executable).with_name("logistis-tui")
# Everything the app writes to the page's WebSocket, as text, kept by the page itself.
RECORD_SOCKET = """
window.__received = "";
const Native = window.WebSocket;
window.WebSocket = function (...args) {
    const socket = new Native(...args);
    const decoder = new TextDecoder();
    socket.addEventListener("message", (message) => {
        if (message.data instanceof ArrayBuffer) {
            window.__received += decoder.decode(message.data, {stream: true});
        } else if (message.data instanceof Blob) {
            message.data.arrayBuffer().then((b) => { window.__received += decoder.decode(b); });
        }
    });
    return socket;
};
window.WebSocket.prototype = Native.prototype;
"""


def test_a_non_loopback_address_needs_its_own_flag() -> None:
    refused = subprocess.run(
        [str(TUI), "--web", "--web-listen", "0.0.0.0:8000", "--url", "http://127.0.0.1:9"],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert refused.returncode == 2
    assert "--allow-public-web" in refused.stderr


@contextlib.contextmanager
def started(argv: list[str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A process of the test's own, in a session of its own: ended with all it started."""
    with log.open("wb") as out:
        process = subprocess.Popen(
            argv, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        yield process
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)


def wait_listening(url: str, within: float = 20.0) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(url, timeout=1).status_code == 200:
                return
        time.sleep(0.1)
    raise AssertionError(f"{url} did not answer within {within}s")


class DevTools:
    """The few DevTools protocol calls the test needs, on one page's WebSocket."""

    def __init__(self, socket: aiohttp.ClientWebSocketResponse) -> None:
        self.socket, self.ids = socket, count(1)

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        number = next(self.ids)
        await self.socket.send_json({"id": number, "method": method, "params": params})
        while True:
            reply = json.loads((await self.socket.receive(timeout=30)).data)
            if reply.get("id") == number:
                assert "error" not in reply, reply
                return reply["result"]

    async def text(self) -> str:
        found = await self.call("Runtime.evaluate", expression="window.__received || ''")
        return found["result"]["value"]

    async def wait_for_text(self, wanted: str, after: int = 0, within: float = 30.0) -> None:
        deadline = time.monotonic() + within
        while wanted not in (await self.text())[after:]:
            if time.monotonic() > deadline:
                raise AssertionError(f"{wanted!r} not shown within {within}s")
            await asyncio.sleep(0.2)

    async def press(self, key: str) -> None:
        code = f"Key{key.upper()}"
        common = {"key": key, "code": code, "windowsVirtualKeyCode": ord(key.upper())}
        await self.call("Input.dispatchKeyEvent", type="keyDown", text=key, **common)
        await self.call("Input.dispatchKeyEvent", type="keyUp", **common)


def chromium_argv(profile: Path) -> list[str]:
    assert CHROMIUM is not None
    return [
        CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
        "--no-first-run", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", f"--user-data-dir={profile}", "--remote-debugging-port=0",
        "--remote-debugging-address=127.0.0.1", "--window-size=1280,800",
        "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1", "about:blank",
    ]  # fmt: skip


def devtools_port(profile: Path, within: float = 30.0) -> int:
    """Chromium writes the port it chose in the profile once it listens."""
    marker = profile / "DevToolsActivePort"
    deadline = time.monotonic() + within
    while not marker.exists() or not marker.read_text().strip():
        if time.monotonic() > deadline:
            raise AssertionError("Chromium did not open its DevTools port")
        time.sleep(0.1)
    return int(marker.read_text().split()[0])


@pytest.mark.skipif(
    CHROMIUM is None, reason="Debian's chromium is not installed (apt-get install chromium)"
)
async def test_the_app_in_chromium_shows_the_events_and_takes_keys(
    fed_collector: CollectorProcess, tmp_path: Path
) -> None:
    web = f"127.0.0.1:{free_port()}"
    server = [str(TUI), "--web", "--web-listen", web, "--url", fed_collector.api_url]
    with started(server, tmp_path / "web.log"):
        await asyncio.to_thread(wait_listening, f"http://{web}/")
        profile = tmp_path / "chromium"
        with started(chromium_argv(profile), tmp_path / "chromium.log"):
            port = await asyncio.to_thread(devtools_port, profile)
            await drive(f"http://127.0.0.1:{port}", f"http://{web}/", tmp_path)


async def drive(devtools: str, page_url: str, tmp_path: Path) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{devtools}/json/list") as response:
            targets = await response.json()
        page = next(t for t in targets if t["type"] == "page")
        async with session.ws_connect(page["webSocketDebuggerUrl"], max_msg_size=0) as socket:
            tools = DevTools(socket)
            await tools.call("Page.enable")
            await tools.call("Page.addScriptToEvaluateOnNewDocument", source=RECORD_SOCKET)
            await tools.call("Page.navigate", url=page_url)
            # The event list: alice's changes, people first as in the terminal.
            await tools.wait_for_text("alice")
            await tools.wait_for_text("Deployment")
            shown = len(await tools.text())
            await tools.call("Runtime.evaluate", expression=FOCUS_TERMINAL)
            await tools.press("i")
            await tools.wait_for_text("Changes over time", after=shown)
            shot = await tools.call("Page.captureScreenshot", format="png")
    picture = tmp_path / "insights-in-chromium.png"
    picture.write_bytes(b64decode(shot["data"]))
    assert picture.stat().st_size > 10_000


FOCUS_TERMINAL = "document.querySelector('.xterm-helper-textarea').focus()"

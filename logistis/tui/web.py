"""`logistis-tui --web`: the same app in a browser, served by textual-serve.

Each browser tab runs its own `logistis-tui` process with the command line's other flags, so
it reaches the collector the same way the terminal app does (the port-forward, the
Kubernetes API or `--url`). textual-serve is the `web` extra: imported only when asked for.
"""

from __future__ import annotations

import ipaddress
import shlex
import sys
from collections.abc import Sequence

DEFAULT_LISTEN = "127.0.0.1:8000"
TITLE = "logistis"


class WebError(ValueError):
    """`--web-listen` cannot be served as asked; the message says why."""


def listen_address(listen: str, *, allow_public: bool) -> tuple[str, int]:
    """HOST:PORT, loopback unless `allow_public`: the app shows the cluster's history to
    whoever reaches the port, and has no login of its own."""
    host, _, port = listen.rpartition(":")
    host = host.strip("[]")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise WebError(f"--web-listen {listen}: expected HOST:PORT, like {DEFAULT_LISTEN}")
    if not (allow_public or _loopback(host)):
        raise WebError(
            f"--web-listen {listen} is not a loopback address: anyone who reaches it reads the"
            " history; add --allow-public-web to serve it there anyway"
        )
    return host, int(port)


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def app_command(argv: Sequence[str]) -> str:
    """The command each browser tab runs: this Python, the terminal app, the given flags."""
    return shlex.join([sys.executable, "-m", "logistis.tui.cli", *argv])


def serve(argv: Sequence[str], host: str, port: int) -> None:
    """Serve until interrupted (SIGINT or SIGTERM)."""
    try:
        from textual_serve.server import Server
    except ImportError:
        raise WebError("--web needs textual-serve: pip install 'logistis[web]'") from None
    Server(app_command(argv), host=host, port=port, title=TITLE).serve()

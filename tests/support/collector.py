"""A real `logistis-collector` process on loopback, for tests of everything that talks to it.

`CollectorProcess` starts the installed console script (this virtualenv's, unless told
another) with a temporary data directory on free ports, waits until `/readyz` answers, and
stops it with SIGTERM (or SIGKILL, for the durability tests). `post_review` sends an AdmissionReview over real TLS.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx

from tests.support.fixtures import bodies
from tests.support.processes import child_pids

COLLECTOR = Path(sys.executable).with_name("logistis-collector")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class CollectorProcess:
    def __init__(
        self,
        data_dir: Path,
        *args: str,
        env: dict[str, str] | None = None,
        executable: Path = COLLECTOR,
        cwd: Path | None = None,
        token: str | None = None,
    ) -> None:
        self.data_dir = data_dir
        self.token = token
        """The webhook's path token, when the collector is started with one."""
        self.args = (*args, "--webhook-token-file", str(self.token_file)) if token else args
        self.env = env or {}
        self.executable = executable
        self.cwd = cwd
        self.webhook_port = free_port()
        self.api_port = free_port()
        self._picked = {self.webhook_port, self.api_port}
        self.process: subprocess.Popen[bytes] | None = None
        self.log = data_dir / "collector.log"
        self._log_from = 0  # where the log of the latest launch begins

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def token_file(self) -> Path:
        return self.data_dir / "webhook-token"

    @property
    def webhook_url(self) -> str:
        path = f"/validate/{self.token}" if self.token else "/validate"
        return f"https://127.0.0.1:{self.webhook_port}{path}"

    @property
    def ca_file(self) -> Path:
        return self.data_dir / "tls-dev.crt"

    def start(self, timeout: float = 20.0) -> CollectorProcess:
        self.launch()
        return self.wait_ready(timeout)

    def launch(self) -> None:
        """Start the process without waiting for it (several started at one moment)."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self.token:
            self.token_file.write_text(self.token + "\n")
        command = [
            str(self.executable),
            "--data-dir", str(self.data_dir),
            "--webhook-listen", f"127.0.0.1:{self.webhook_port}",
            "--api-listen", f"127.0.0.1:{self.api_port}",
            "--log-format", "json",
            *self.args,
        ]  # fmt: skip
        with self.log.open("ab") as log:
            self._log_from = log.tell()
            self.process = subprocess.Popen(
                command, stdout=log, stderr=log, env={**os.environ, **self.env}, cwd=self.cwd
            )
        _LAUNCHED.append(self)

    def wait_ready(self, timeout: float = 20.0) -> CollectorProcess:
        """Until `/readyz` answers 200. A port of ours that another process took between
        `free_port` and the bind (parallel workers pick ports too) is picked again."""
        deadline = time.monotonic() + timeout
        relaunches = 3
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                if relaunches and self._repick_taken_port():
                    relaunches -= 1
                    self.launch()
                    continue
                raise RuntimeError(f"collector exited: {self.log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{self.api_url}/readyz", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"collector not ready after {timeout}s: {self.log.read_text()[-2000:]}")

    def _repick_taken_port(self) -> bool:
        """After an exit: whether it was for a port in use that this object picked itself (not
        one set by the test, or written into the arguments), now replaced by free ones."""
        with self.log.open("rb") as log:
            log.seek(self._log_from)
            if b"address already in use" not in log.read().lower():
                return False
        ours = [port for port in (self.webhook_port, self.api_port) if port in self._picked]
        if not ours or any(str(port) in arg for port in ours for arg in self.args):
            return False
        if self.webhook_port in self._picked:
            self.webhook_port = free_port()
            self._picked.add(self.webhook_port)
        if self.api_port in self._picked:
            self.api_port = free_port()
            self._picked.add(self.api_port)
        return True

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> int:
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else 0
        self.process.send_signal(sig)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()

    def terminate(self) -> None:
        """SIGTERM without waiting: several collectors drain at once, then `stop()` waits for
        each (a second SIGTERM changes nothing)."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)

    def kill(self) -> int:
        return self.stop(signal.SIGKILL)

    def ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca_file))

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.api_url, timeout=10)

    def webhook_client(self) -> httpx.Client:
        return httpx.Client(verify=self.ssl_context(), timeout=10)

    def __enter__(self) -> CollectorProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# Every collector the tests started: a test that fails between `start()` and `stop()` would
# otherwise leave its process running after the session (`stop_all`).
_LAUNCHED: list[CollectorProcess] = []


def stop_all() -> None:
    """Stop the collectors still running (a no-op for those stopped already)."""
    while _LAUNCHED:
        _LAUNCHED.pop().stop(timeout=10)


@contextlib.contextmanager
def webhook_socket(collector: CollectorProcess, timeout: float = 5.0) -> Iterator[ssl.SSLSocket]:
    """A TLS connection to the webhook port, to write requests byte by byte."""
    address = ("127.0.0.1", collector.webhook_port)
    with (
        socket.create_connection(address, timeout=timeout) as raw,
        collector.ssl_context().wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        yield tls


def children(collector: CollectorProcess, module: str) -> list[int]:
    """The collector's child processes running `module` (`python -m module`)."""
    assert collector.process is not None
    return child_pids(collector.process.pid, module)


def derived(client: httpx.Client) -> bool:
    """Whether the collector's deriver has reached every committed event (who acted, marks)."""
    return "logistis_events_underived 0.0" in client.get("/metrics").text


def wait_for(condition: Callable[[], bool], seconds: float) -> bool:
    """Whether the condition held within the time, looked at every 0.1 s."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


def post_reviews(
    collector: CollectorProcess, reviews: Iterable[dict[str, Any]] | None = None
) -> list[httpx.Response]:
    """POST each review to the webhook over TLS, as the apiserver does."""
    with collector.webhook_client() as client:
        return [
            client.post(
                f"{collector.webhook_url}?timeout=5s",
                json=review,
                headers={"User-Agent": "kube-apiserver-admission"},
            )
            for review in (bodies() if reviews is None else reviews)
        ]


@contextlib.contextmanager
def fed(data_dir: Path, env: dict[str, str] | None = None) -> Iterator[CollectorProcess]:
    """A collector with all 228 fixtures posted (dry runs not recorded), stopped after."""
    collector = CollectorProcess(data_dir, env=env).start()
    try:
        responses = post_reviews(collector)
        assert all(r.status_code == 200 for r in responses)
        yield collector
    finally:
        collector.stop()


def run_collector_command(args: Sequence[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """Run `logistis-collector` to completion (for flag and start-up error tests)."""
    return subprocess.run(
        [str(COLLECTOR), *args], capture_output=True, text=True, timeout=30, **kwargs
    )

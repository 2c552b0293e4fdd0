"""A `kubectl port-forward` session to the collector's API, started and stopped by us.

The API port is not in the collector's Service: it binds loopback inside the pod, so the
forward goes to a pod: the StatefulSet's, or when there is none (the HA overlay) one of the
Deployment's, as kubectl picks it. kubectl picks a free local port (`:8080`) and says
which on stdout (`Forwarding from 127.0.0.1:PORT -> 8080`); its errors go to stderr and are
turned into one line an operator can act on.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections import deque
from dataclasses import dataclass
from types import TracebackType
from typing import Self

DEFAULT_NAMESPACE = "logistis"
DEFAULT_TARGET = "pod/logistis-collector-0"
HA_TARGET = "deployment/logistis-collector"
API_PORT = 8080
READY_TIMEOUT = 20.0
STOP_TIMEOUT = 3.0

_FORWARDING = re.compile(r"^Forwarding from 127\.0\.0\.1:(\d+) -> \d+")
# klog lines (`E1125 15:18:02.324863 5392 memcache.go:265] ...`) repeat what the last line says.
_KLOG = re.compile(r"^[IWEF]\d{4} ")


class PortForwardError(Exception):
    """The forward could not be opened or kept; `str()` is one line saying why."""

    def __init__(self, message: str, *, missing: bool = False) -> None:
        super().__init__(message)
        self.missing = missing
        """kubectl found no such object (another target may exist)."""


@dataclass(frozen=True, slots=True)
class Target:
    namespace: str = DEFAULT_NAMESPACE
    resource: str = DEFAULT_TARGET
    fallbacks: tuple[str, ...] = (HA_TARGET,)
    """Tried in turn when kubectl finds no `resource`: the single-pod StatefulSet's pod first,
    then the HA overlay's Deployment."""
    remote_port: int = API_PORT
    context: str | None = None
    kubeconfig: str | None = None

    def command(self, kubectl: str, resource: str) -> list[str]:
        command = [kubectl, "port-forward", "--namespace", self.namespace]
        command += ["--address", "127.0.0.1", resource, f":{self.remote_port}"]
        if self.context:
            command += ["--context", self.context]
        if self.kubeconfig:
            command += ["--kubeconfig", self.kubeconfig]
        return command


class PortForward:
    """`async with PortForward(Target()) as forward:` then use `forward.url`.

    kubectl keeps running while the block runs and is terminated when it ends. If kubectl
    dies on its own (the pod restarted, the network dropped), `restart()` opens a new one.
    """

    def __init__(
        self,
        target: Target | None = None,
        *,
        kubectl: str = "kubectl",
        ready_timeout: float = READY_TIMEOUT,
    ):
        self.target = target or Target()
        self._kubectl = kubectl
        self._ready_timeout = ready_timeout
        self._process: asyncio.subprocess.Process | None = None
        self._readers: list[asyncio.Task[None]] = []
        self._stderr: deque[str] = deque(maxlen=20)
        self._port: int | None = None
        self._resource = self.target.resource

    @property
    def url(self) -> str:
        if self._port is None:
            raise PortForwardError("the port-forward is not open")
        return f"http://127.0.0.1:{self._port}"

    @property
    def alive(self) -> bool:
        return self._process is not None and self._process.returncode is None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def start(self) -> None:
        """Forward to the target's resource, or to the first of its fallbacks that exists; when
        none does, the error is the first one's."""
        try:
            await self._start_any()
        except PortForwardError as error:
            # Without a context kubectl talks to its fallback, localhost:8080: a local
            # collector's own API port, whose 404 reads as "pod not found".
            if self.target.context is None and not await self._has_context():
                raise PortForwardError(
                    "no cluster context: use --url for a collector you reach directly, or "
                    "--context (kubectl has no current context)"
                ) from error
            raise

    async def _has_context(self) -> bool:
        command = [self._kubectl, "config", "current-context"]
        if self.target.kubeconfig:
            command += ["--kubeconfig", self.target.kubeconfig]
        quiet = asyncio.subprocess.DEVNULL
        try:
            process = await asyncio.create_subprocess_exec(
                *command, stdin=quiet, stdout=quiet, stderr=quiet
            )
        except FileNotFoundError:
            return True  # no kubectl at all: its own error says so
        return await process.wait() == 0

    async def _start_any(self) -> None:
        first: PortForwardError | None = None
        for resource in (self.target.resource, *self.target.fallbacks):
            self._resource = resource
            try:
                await self._start()
            except PortForwardError as error:
                if not error.missing:
                    raise
                first = first or error
            else:
                return
        assert first is not None
        raise first

    async def _start(self) -> None:
        try:
            self._process = await asyncio.create_subprocess_exec(
                *self.target.command(self._kubectl, self._resource),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
        except FileNotFoundError:
            raise PortForwardError(
                f"{self._kubectl} not found: install kubectl, or give --url to reach the "
                "collector directly"
            ) from None
        try:
            await self._wait_until_ready()
        except BaseException:
            await self.stop()
            raise

    async def restart(self) -> str:
        """A working forward's URL: this one if it still accepts connections, else a new one."""
        if not (self.alive and await self._accepts()):
            await self.stop()
            await self.start()
        return self.url

    async def _accepts(self) -> bool:
        # kubectl can outlive its forward (the pod went away): a refused connection tells.
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", self._port)
        except OSError:
            return False
        writer.close()
        await writer.wait_closed()
        return True

    async def stop(self) -> None:
        process, self._process, self._port = self._process, None, None
        if process is not None and process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), STOP_TIMEOUT)
            except TimeoutError:
                process.kill()
                await process.wait()
        for reader in self._readers:
            reader.cancel()
        for reader in self._readers:
            with contextlib.suppress(asyncio.CancelledError):
                await reader
        self._readers = []

    async def _wait_until_ready(self) -> None:
        process = self._process
        # Both pipes exist: start() asked for them.
        assert process is not None
        assert process.stdout is not None
        assert process.stderr is not None
        self._stderr.clear()
        stderr_reader = asyncio.create_task(self._collect(process.stderr))
        self._readers = [stderr_reader]
        try:
            self._port = await asyncio.wait_for(
                _forwarded_port(process.stdout), self._ready_timeout
            )
        except TimeoutError:
            raise PortForwardError(
                f"{self._where()}: kubectl did not report a forward within {self._ready_timeout:g}s"
            ) from None
        if self._port is None:
            await process.wait()
            await stderr_reader
            lines = list(self._stderr)
            raise PortForwardError(f"{self._where()}: {explain(lines)}", missing=_missing(lines))
        # kubectl logs every connection on stdout; drained, or it would block on a full pipe.
        self._readers.append(asyncio.create_task(self._collect(process.stdout, keep=False)))

    async def _collect(self, stream: asyncio.StreamReader, *, keep: bool = True) -> None:
        async for raw in stream:
            line = raw.decode(errors="replace").rstrip()
            if keep and line:
                self._stderr.append(line)

    def _where(self) -> str:
        return f"port-forward to {self._resource} in namespace {self.target.namespace}"


async def _forwarded_port(stdout: asyncio.StreamReader) -> int | None:
    async for raw in stdout:
        match = _FORWARDING.match(raw.decode(errors="replace"))
        if match:
            return int(match.group(1))
    return None


def _missing(stderr: list[str]) -> bool:
    return any("(NotFound)" in line for line in stderr)


def explain(stderr: list[str]) -> str:
    """kubectl's failure output as one line: what went wrong, and what to do about it."""
    lines = [line for line in stderr if not _KLOG.match(line)] or stderr
    if not lines:
        return "kubectl exited without saying why"
    message = lines[-1].removeprefix("error: ").strip()
    lowered = message.lower()
    for needle, advice in _ADVICE:
        if needle in lowered:
            return f"{message} ({advice})"
    return message


_ADVICE: tuple[tuple[str, str], ...] = (
    ('cannot create resource "pods/portforward"', "ask for create on pods/portforward"),
    ("forbidden", "your RBAC role does not allow this"),
    ("not found", "is logistis deployed there? see --namespace and --context"),
    ("pod is not running", "the collector is not up yet; check `kubectl get pods`"),
    ("refused", "no Kubernetes API server answers; check --context and --kubeconfig"),
    ("unable to connect to the server", "check --context and your network"),
)

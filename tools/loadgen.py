"""Load generator for the admission webhook: real fixture bodies, fresh uids, keep-alive TLS.

Runs as its own process (the benchmark starts it per measurement) and prints one JSON line:
requests, errors, requests/s and latency percentiles in milliseconds.

- closed loop (`--concurrency N`): N connections, each sends its next review as soon as the
  previous answer arrived; measures the most the server can take.
- open loop (`--rate R`): reviews are due at fixed times, R per second, whether or not the
  server keeps up; latency counts from the due time, so a stall is not hidden by the sender
  waiting for it (no coordinated omission).

A minimal HTTP/1.1 client on asyncio streams keeps the generator's own CPU cost low: on a
2-core machine it competes with the server for the same cores.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import ssl
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import uvloop

UID_MARK = "00000000-0000-4000-8000-000000000000"
FIXTURES = Path(__file__).resolve().parents[1] / "testdata/admission"


class LoadError(Exception):
    """The target answered something other than 200, or the connection broke."""


def fixture_requests(directory: Path, host: str, path: str) -> list[tuple[bytes, bytes]]:
    """Each fixture as (bytes before the uid, bytes after it), headers included."""
    templates = []
    for file in sorted(directory.glob("[0-9][0-9][0-9]-*.json")):
        body = json.loads(file.read_text())["body"]
        body["request"]["uid"] = UID_MARK
        encoded = json.dumps(body, separators=(",", ":")).encode()
        head = (
            f"POST {path}?timeout=5s HTTP/1.1\r\nHost: {host}\r\n"
            "User-Agent: kube-apiserver-admission\r\nContent-Type: application/json\r\n"
            f"Accept: application/json\r\nContent-Length: {len(encoded)}\r\n\r\n"
        ).encode()
        before, after = (head + encoded).split(UID_MARK.encode())
        templates.append((before, after))
    if not templates:
        raise SystemExit(f"loadgen: no fixtures in {directory}")
    return templates


def fresh_requests(templates: list[tuple[bytes, bytes]]) -> Iterator[bytes]:
    """Fixture requests in a cycle, each with a uid never used before."""
    prefix = f"{os.getpid():08x}-0000-4000-8000-"
    for number, (before, after) in zip(itertools.count(), itertools.cycle(templates)):
        yield before + f"{prefix}{number:012x}".encode() + after


class Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer

    @classmethod
    async def open(cls, host: str, port: int, context: ssl.SSLContext) -> Connection:
        reader, writer = await asyncio.open_connection(host, port, ssl=context)
        return cls(reader, writer)

    async def exchange(self, request: bytes) -> None:
        self._writer.write(request)
        head = await self._reader.readuntil(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 200"):
            raise LoadError(head.split(b"\r\n", 1)[0].decode(errors="replace"))
        length = 0
        for line in head.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        await self._reader.readexactly(length)

    def close(self) -> None:
        self._writer.close()


@dataclass
class Results:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    first_error: str = ""

    def failed(self, error: Exception) -> None:
        self.errors += 1
        self.first_error = self.first_error or f"{type(error).__name__}: {error}"

    def summary(self, seconds: float) -> dict[str, float | int | str]:
        ordered = sorted(self.latencies)
        return {
            "requests": len(ordered),
            "errors": self.errors,
            "first_error": self.first_error,
            "seconds": round(seconds, 3),
            "rps": round(len(ordered) / seconds, 1),
            "p50_ms": percentile(ordered, 0.50),
            "p99_ms": percentile(ordered, 0.99),
            "p999_ms": percentile(ordered, 0.999),
            "max_ms": percentile(ordered, 1.0),
        }


def percentile(ordered: list[float], fraction: float) -> float:
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, int(fraction * len(ordered)))
    return round(ordered[index] * 1000, 3)


async def closed_loop(
    connections: list[Connection], requests: Iterator[bytes], until: float, warm_until: float
) -> Results:
    results = Results()

    async def worker(connection: Connection) -> None:
        while (started := time.perf_counter()) < until:
            try:
                await connection.exchange(next(requests))
            except (LoadError, OSError, asyncio.IncompleteReadError) as error:
                results.failed(error)
                return
            if started >= warm_until:
                results.latencies.append(time.perf_counter() - started)

    await asyncio.gather(*(worker(c) for c in connections))
    return results


async def open_loop(
    connections: list[Connection],
    requests: Iterator[bytes],
    rate: float,
    until: float,
    warm_until: float,
) -> Results:
    results = Results()
    due: asyncio.Queue[float | None] = asyncio.Queue()

    async def worker(connection: Connection) -> None:
        while (scheduled := await due.get()) is not None:
            try:
                await connection.exchange(next(requests))
            except (LoadError, OSError, asyncio.IncompleteReadError) as error:
                results.failed(error)
                continue
            if scheduled >= warm_until:
                results.latencies.append(time.perf_counter() - scheduled)

    workers = [asyncio.create_task(worker(c)) for c in connections]
    start = time.perf_counter()
    for number in itertools.count():
        scheduled = start + number / rate
        if scheduled >= until:
            break
        delay = scheduled - time.perf_counter()
        if delay > 0.0005:
            await asyncio.sleep(delay)
        due.put_nowait(scheduled)
    for _ in workers:
        due.put_nowait(None)
    await asyncio.gather(*workers)
    return results


async def run(args: argparse.Namespace) -> dict[str, float | int | str]:
    url = urlsplit(args.url)
    context = ssl.create_default_context(cafile=args.ca)
    host, port = url.hostname or "127.0.0.1", url.port or 443
    requests = fresh_requests(fixture_requests(Path(args.fixtures), f"{host}:{port}", url.path))
    connections = [await Connection.open(host, port, context) for _ in range(args.connections)]
    start = time.perf_counter()
    warm_until = start + args.warmup
    until = warm_until + args.duration
    try:
        if args.rate:
            results = await open_loop(connections, requests, args.rate, until, warm_until)
        else:
            results = await closed_loop(connections, requests, until, warm_until)
    finally:
        for connection in connections:
            connection.close()
    # Until the last answer: an open loop the server cannot keep up with ends late.
    return results.summary(max(time.perf_counter(), until) - warm_until)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="loadgen", description=__doc__.splitlines()[0])
    parser.add_argument("url", help="https://HOST:PORT/validate")
    parser.add_argument("--ca", required=True, help="CA certificate that signed the server's")
    parser.add_argument("--connections", type=int, default=16, help="keep-alive connections")
    parser.add_argument("--rate", type=float, help="open loop: reviews per second")
    parser.add_argument("--duration", type=float, default=10.0, help="measured seconds")
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds sent but not counted")
    parser.add_argument("--fixtures", default=str(FIXTURES), help="AdmissionReview fixtures")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        summary = uvloop.run(run(args))
    except OSError as error:
        print(f"loadgen: cannot reach {args.url}: {error}", file=sys.stderr)
        return 1
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())

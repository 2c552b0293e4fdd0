"""A no-op admission webhook: the HTTP and TLS stack's limit, for the benchmark to compare with.

Same aiohttp, same TLS context, same event loop and the same JSON parsing as the collector's
webhook, but it records nothing: it reads the review and answers `allowed: true` for its uid.

    python tools/noop_webhook.py --data-dir DIR --listen 127.0.0.1:9443
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from collections.abc import Awaitable, Callable
from pathlib import Path

import orjson
import uvloop
from aiohttp import web

from logistis.collector.trust.tls import ReloadingTLS, ensure_dev_certificate


async def validate(request: web.Request) -> web.Response:
    review = orjson.loads(await request.read())
    answer = {
        "apiVersion": review["apiVersion"],
        "kind": "AdmissionReview",
        "response": {"uid": review["request"]["uid"], "allowed": True},
    }
    return web.Response(body=orjson.dumps(answer), content_type="application/json")


async def serve(data_dir: Path, host: str, port: int) -> None:
    app = web.Application(client_max_size=3 * 2**20)
    app.router.add_post("/validate", validate)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    tls = ReloadingTLS(*ensure_dev_certificate(data_dir))
    await web.TCPSite(runner, host, port, ssl_context=tls.context).start()
    try:
        await until_stopped()
    finally:
        await runner.cleanup()


async def until_stopped() -> None:
    """Say `ready` (what the benchmark waits for), then wait for SIGTERM or SIGINT."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    print("ready", flush=True)
    await stop.wait()


def command(prog: str, doc: str, serve: Callable[[Path, str, int], Awaitable[None]]) -> None:
    """A no-op endpoint's command line: `serve` on --listen with the TLS files of --data-dir."""
    parser = argparse.ArgumentParser(prog=prog, description=doc.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, required=True, help="holds tls-dev.crt/.key")
    parser.add_argument("--listen", default="127.0.0.1:9443", metavar="HOST:PORT")
    args = parser.parse_args()
    host, _, port = args.listen.rpartition(":")
    uvloop.run(serve(args.data_dir, host, int(port)))


if __name__ == "__main__":
    command("noop_webhook", __doc__, serve)

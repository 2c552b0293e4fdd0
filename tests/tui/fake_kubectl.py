"""A stand-in for `kubectl port-forward`, for a machine without a cluster.

It behaves like the real one where logistis can tell: it prints
`Forwarding from 127.0.0.1:PORT -> 8080` once it listens on a free port, logs
`Handling connection for PORT` for each connection, forwards the bytes to
`$FAKE_KUBECTL_UPSTREAM` (`host:port`, standing in for the pod), and runs until terminated.
`$FAKE_KUBECTL_MODE` makes it fail instead, with kubectl's own messages and exit status 1
(`nopod`: only when asked for a pod, as a cluster with the collector's Deployment does).
`$FAKE_KUBECTL_RECORD` names a file that gets one line per port-forward run: the pid and the
arguments. `kubectl config current-context` names a context, as on a machine with a kubeconfig,
except in mode `nocontext`: a machine without one, where kubectl's fallback server is
localhost:8080 and a port-forward meets whatever listens there (a local collector: NotFound).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys

KLOG = (
    'E1125 15:18:02.324863    5392 memcache.go:265] "Unhandled Error" err="couldn\'t get '
    'current server API group list: Get \\"http://localhost:8080/api?timeout=32s\\": dial tcp '
    '127.0.0.1:8080: connect: connection refused"'
)
FAILURES = {
    "notfound": ['Error from server (NotFound): pods "logistis-collector-0" not found'],
    "forbidden": [
        'error: error upgrading connection: pods "logistis-collector-0" is forbidden: User "bob" '
        'cannot create resource "pods/portforward" in API group "" in the namespace "logistis"'
    ],
    "pending": ["error: unable to forward port because pod is not running. Current status=Pending"],
    "refused": [
        KLOG,
        KLOG,
        "The connection to the server localhost:8080 was refused - did you specify the right "
        "host or port?",
    ],
    "silent": [],
    "nocontext": ["Error from server (NotFound): the server could not find the requested resource"],
}


async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


async def serve(upstream: str) -> None:
    host, port = upstream.rsplit(":", 1)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        print(f"Handling connection for {local_port}", flush=True)
        try:
            up_reader, up_writer = await asyncio.open_connection(host, int(port))
        except OSError as error:
            print(
                f"E1125 portforward.go:424] an error occurred forwarding: {error}", file=sys.stderr
            )
            writer.close()
            return
        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    local_port = server.sockets[0].getsockname()[1]
    print(f"Forwarding from 127.0.0.1:{local_port} -> 8080", flush=True)
    async with server:
        await server.serve_forever()


def current_context(mode: str) -> int:
    if mode == "nocontext":
        print("error: current-context is not set", file=sys.stderr)
        return 1
    print("standin")
    return 0


def main() -> int:
    mode = os.environ.get("FAKE_KUBECTL_MODE", "serve")
    if sys.argv[1:3] == ["config", "current-context"]:
        return current_context(mode)
    record = os.environ.get("FAKE_KUBECTL_RECORD")
    if record:
        with open(record, "a") as file:
            file.write(json.dumps({"pid": os.getpid(), "args": sys.argv[1:]}) + "\n")
    if mode == "nopod" and any(arg.startswith("pod/") for arg in sys.argv):
        # A cluster running the HA overlay: a Deployment, no pod logistis-collector-0.
        mode = "notfound"
    if mode in FAILURES:
        for line in FAILURES[mode]:
            print(line, file=sys.stderr)
        return 1
    asyncio.run(serve(os.environ["FAKE_KUBECTL_UPSTREAM"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())

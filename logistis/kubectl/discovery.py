"""The cluster's discovery API, through `kubectl api-resources`: the last resort for a TYPE
that is neither built in nor recorded, such as a custom resource's own short name.

A thin seam over kubectl, so that it uses the same kubeconfig, context and credentials as
the port-forward does. Any failure (no kubectl, no cluster, no permission, too slow) means
"nothing discovered": the caller then reports the type as unknown.
"""

from __future__ import annotations

import asyncio
import contextlib

from logistis.kubectl.resolve import ResourceType

TIMEOUT = 10.0
_COLUMNS = ("NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND")


async def discover(
    *, context: str | None, kubeconfig: str | None, kubectl: str = "kubectl"
) -> list[ResourceType]:
    command = [kubectl, "api-resources", "--request-timeout=5s"]
    command += ["--context", context] if context else []
    command += ["--kubeconfig", kubeconfig] if kubeconfig else []
    try:
        process = await asyncio.create_subprocess_exec(
            *command,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )
    except OSError:
        return []
    try:
        out, _ = await asyncio.wait_for(process.communicate(), TIMEOUT)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()
        return []
    return parse_api_resources(out.decode(errors="replace")) if process.returncode == 0 else []


def parse_api_resources(text: str) -> list[ResourceType]:
    """`kubectl api-resources` output: fixed-width columns, SHORTNAMES often empty."""
    lines = text.splitlines()
    if not lines or not all(column in lines[0] for column in _COLUMNS):
        return []
    starts = [lines[0].index(column) for column in _COLUMNS]
    bounds = list(zip(starts, [*starts[1:], None], strict=True))
    types = []
    for line in lines[1:]:
        name, short, api_version, namespaced, kind = (line[a:b].strip() for a, b in bounds)
        if name and kind:
            group = api_version.rpartition("/")[0]
            shorts = tuple(s for s in short.split(",") if s)
            types.append(ResourceType(group, name, kind, shorts, namespaced == "true"))
    return types

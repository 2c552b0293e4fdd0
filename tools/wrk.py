"""Closed-loop load from `wrk`, the C load generator, posting the captured reviews.

`tools/loadgen.py` is Python: at these rates it needs most of a core itself, on a machine of
two. wrk (Debian's `wrk` package) drives the same TLS keep-alive load for a fraction of that,
so the server under test gets more of the machine. The reviews are the fixtures of
`testdata/admission/` in turn, each with a fresh uid, written into a Lua script that wrk runs.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

from loadgen import FIXTURES, fixture_requests

_SCRIPT = """
local parts = {%s}
local count = 0
request = function()
  count = count + 1
  local part = parts[(count %% #parts) + 1]
  local uid = string.format("%%08x-0000-4000-8000-%%012x", %d, count)
  return part[1] .. uid .. part[2]
end
"""
_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


class WrkMissing(RuntimeError):
    """wrk is not installed on this machine."""


def available() -> bool:
    return shutil.which("wrk") is not None


def script(url: str, directory: Path, seed: int = 0) -> Path:
    """The Lua script that sends the fixtures as whole requests (headers included)."""
    parts = urlsplit(url)
    host = f"{parts.hostname}:{parts.port}"
    templates = fixture_requests(FIXTURES, host, parts.path)
    lua = ",".join(f"{{{_quoted(before)},{_quoted(after)}}}" for before, after in templates)
    path = directory / "wrk-reviews.lua"
    path.write_text(_SCRIPT % (lua, seed))
    return path


def _quoted(text: bytes) -> str:
    """A Lua string literal (not a long bracket: Lua turns its CR LF into LF)."""
    escaped = text.decode().replace("\\", "\\\\").replace('"', '\\"')
    return '"' + escaped.replace("\r", "\\r").replace("\n", "\\n") + '"'


def run(url: str, lua: Path, duration: float, connections: int = 16) -> dict[str, float]:
    """One closed-loop run: requests, requests/s and latency percentiles in ms."""
    if not available():
        raise WrkMissing("wrk is not installed (Debian: apt-get install wrk)")
    done = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{duration:g}s", "--latency", "-s", str(lua), url],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed: {done.stderr.strip() or done.stdout.strip()}")
    return parse(done.stdout)


def parse(output: str) -> dict[str, float]:
    requests = re.search(r"(\d+) requests in ([\d.]+)(\w+)", output)
    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    if requests is None or rate is None:
        raise RuntimeError(f"wrk's output not understood: {output}")
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    result = {"requests": float(requests[1]), "rps": float(rate[1]),
              "errors": float(errors[1]) if errors else 0.0}  # fmt: skip
    for percent, value, unit in re.findall(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)$", output, re.M):
        result[f"p{percent}_ms"] = float(value) * _UNITS[unit]
    return result

"""The load generators against the no-op webhooks (on aiohttp, and on a bare protocol): real
processes on loopback TLS."""

from __future__ import annotations

import importlib
import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.collector import free_port

TOOLS = Path(__file__).resolve().parents[2] / "tools"


@pytest.fixture(scope="module", params=["noop_webhook", "bare_webhook"])
def noop(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Path]]:
    data_dir = tmp_path_factory.mktemp("noop")
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, str(TOOLS / f"{request.param}.py"), "--data-dir", str(data_dir),
         "--listen", f"127.0.0.1:{port}"],
        stdout=subprocess.PIPE,
    )  # fmt: skip
    assert process.stdout is not None
    assert process.stdout.readline().strip() == b"ready"
    yield f"https://127.0.0.1:{port}/validate", data_dir / "tls-dev.crt"
    process.terminate()
    process.wait(10)


def loadgen(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(TOOLS / "loadgen.py"), *args],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def test_closed_loop_reports_throughput_and_ordered_percentiles(noop: tuple[str, Path]) -> None:
    url, ca = noop
    done = loadgen(url, "--ca", str(ca), "--connections", "2", "--duration", "1", "--warmup", "0.2")
    result = json.loads(done.stdout)
    assert result["errors"] == 0, result["first_error"]
    assert result["requests"] > 50
    assert result["rps"] == pytest.approx(result["requests"] / result["seconds"], rel=0.01)
    assert 0 < result["p50_ms"] <= result["p99_ms"] <= result["p999_ms"] <= result["max_ms"]


def test_open_loop_sends_at_the_given_rate(noop: tuple[str, Path]) -> None:
    url, ca = noop
    done = loadgen(url, "--ca", str(ca), "--rate", "100", "--duration", "1", "--warmup", "0")
    result = json.loads(done.stdout)
    assert result["errors"] == 0, result["first_error"]
    assert result["requests"] == 100


def test_an_unreachable_target_is_one_line(noop: tuple[str, Path]) -> None:
    _, ca = noop
    done = loadgen(f"https://127.0.0.1:{free_port()}/validate", "--ca", str(ca), "--duration", "1")
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1
    assert "loadgen: cannot reach" in done.stderr


@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed")
def test_wrk_posts_every_fixture_as_a_whole_request(
    noop: tuple[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """wrk's Lua script sends the captured reviews with fresh uids, each answered 200."""
    # tools/wrk.py imports loadgen as bench.py runs it: from the tools directory.
    monkeypatch.syspath_prepend(str(TOOLS))
    wrk = importlib.import_module("wrk")
    url, _ = noop
    result = wrk.run(url, wrk.script(url, tmp_path), 1, connections=2)
    assert result["requests"] > 0
    assert result["errors"] == 0
    assert result["p99_ms"] >= result["p50_ms"] > 0

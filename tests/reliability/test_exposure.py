"""The query API has no authentication: it listens on loopback unless deliberately widened."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from logistis.collector.settings import from_args
from tests.support.collector import CollectorProcess, free_port, run_collector_command


def test_the_api_listens_on_loopback_by_default() -> None:
    settings = from_args([], environ={})
    assert settings.api_listen.host == "127.0.0.1"
    assert settings.allow_public_api is False


@pytest.mark.parametrize(
    ("host", "how"),
    [
        ("0.0.0.0", "flag"),
        ("0.0.0.0", "environment"),
        ("[::]", "flag"),
        ("collector.example.com", "flag"),
    ],
)
def test_a_wider_api_bind_is_refused_without_the_flag(tmp_path: Path, host: str, how: str) -> None:
    listen = f"{host}:{free_port()}"
    args = ["--data-dir", str(tmp_path), "--webhook-listen", "127.0.0.1:0"]
    env = None
    if how == "flag":
        args += ["--api-listen", listen]
    else:
        env = {"LOGISTIS_API_LISTEN": listen, "PATH": "/usr/bin:/bin"}
    result = run_collector_command(args, env=env)
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if not line.startswith("{")]
    assert len(errors) == 1
    assert "--allow-public-api" in errors[0]


def test_a_wider_bind_with_the_flag_is_warned_about(tmp_path: Path) -> None:
    collector = CollectorProcess(tmp_path / "data", "--allow-public-api")
    # The last --api-listen wins over the loopback one the harness passes.
    collector.args = (*collector.args, "--api-listen", f"0.0.0.0:{collector.api_port}")
    with collector:
        pass
    warnings = [
        entry
        for entry in map(json.loads, collector.log.read_text().splitlines())
        if entry["level"] == "warning"
    ]
    assert any("beyond loopback" in w["message"] and "0.0.0.0" in w["api"] for w in warnings)

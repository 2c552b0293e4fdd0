"""The commands the original logistis README shows, typed as it shows them.

`kubectl blame deployment` and `kubectl blame deployment -f diff` go through the real
kubectl's plugin discovery: kubectl finds `kubectl-blame` on PATH and hands it the arguments.
The context's namespace is team-a, so the original's commands, without `-n`, look there.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from logistis.version import installed_version
from tests.blame.conftest import Fed, discovery_env

KUBECTL = shutil.which("kubectl")
ORIGINAL_COLUMNS = ["KEY", "OPERATION", "USER", "TIME", "PATCH"]


@pytest.fixture
def env(fed: Fed, tmp_path: Path) -> dict[str, str]:
    assert KUBECTL, "the real kubectl must be on PATH: plugin discovery is what is tested"
    return discovery_env(fed, tmp_path, {"namespace": "team-a"})


def kubectl(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(KUBECTL), *args], capture_output=True, text=True, env=env, timeout=60
    )


def test_kubectl_blame_deployment_prints_the_originals_columns(env: dict[str, str]) -> None:
    result = kubectl("blame", "deployment", env=env)
    assert result.returncode == 0, result.stderr
    header, *rows = result.stdout.splitlines()
    assert header.split() == ORIGINAL_COLUMNS
    assert rows[0].startswith("team-a/Deployment/")
    assert result.stdout == kubectl("blame", "deployment", "-o", "table", env=env).stdout


@pytest.mark.parametrize(
    ("flag", "output"),
    [("-f", "table"), ("-f", "diff"), ("-f", "wide"), ("-f", "json"), ("--format", "yaml")],
)
def test_f_and_format_are_the_originals_spelling_of_o(
    env: dict[str, str], flag: str, output: str
) -> None:
    spelled_o = kubectl("blame", "deployment", "-o", output, env=env)
    assert spelled_o.returncode == 0, spelled_o.stderr
    assert len(spelled_o.stdout.splitlines()) > 1, "some events, not just a header"
    spelled_f = kubectl("blame", "deployment", flag, output, env=env)
    # No warning of its own: stderr says only what -o says (how many of the changes are shown).
    assert (spelled_f.returncode, spelled_f.stderr) == (0, spelled_o.stderr)
    assert spelled_f.stdout == spelled_o.stdout


def test_kubectl_blame_deployment_f_diff_shows_diffs(env: dict[str, str]) -> None:
    result = kubectl("blame", "deployment", "-f", "diff", env=env)
    assert result.returncode == 0, result.stderr
    assert "team-a/Deployment/nginx  UPDATE by " in result.stdout
    assert any(line.startswith("-") for line in result.stdout.splitlines())
    assert any(line.startswith("+") for line in result.stdout.splitlines())


def test_kubectl_blame_version_through_plugin_discovery(env: dict[str, str]) -> None:
    result = kubectl("blame", "--version", env=env)
    assert (result.returncode, result.stdout) == (0, f"kubectl-blame {installed_version()}\n")

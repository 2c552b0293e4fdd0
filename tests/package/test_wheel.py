"""The wheel, as a newcomer's `pip install` would get it, away from the repository.

Built from the tracked files only, installed into a fresh virtualenv in a temporary folder
(no system site-packages: a dependency missing from pyproject fails here), and run from
there: the commands answer `--version` and `--help`, the only import package is
`logistis`, and its package data loads: the installed collector records a captured request
(the codec dictionary, the OpenAPI document) and the installed TUI shows it (the stylesheet).
Installed without the `collector` extra, the clients work and none of the server's
dependencies is there.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.package.tracked import ROOT, tracked_files
from tests.support.collector import CollectorProcess, post_reviews
from tests.support.fixtures import load

COMMANDS = ("logistis-collector", "logistis-tui", "kubectl-blame", "kubectl-logistis")
# What only the collector needs; a client install must not bring them.
SERVER_ONLY = {
    "aiohttp",
    "aiosqlite",
    "asyncpg",
    "cloudevents",
    "common-expression-language",
    "uvloop",
    "zstandard",
}
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
ALICE_CREATES_NGINX = 45  # testdata/admission/045-create-deployment.json


@dataclass(frozen=True)
class Installed:
    wheel: Path
    bin: Path
    outside: Path  # the working directory for everything run from the install

    @property
    def env(self) -> dict[str, str]:
        return {
            "PATH": f"{self.bin}{os.pathsep}/usr/bin{os.pathsep}/bin",
            "HOME": str(self.outside),
            "LANG": "C.UTF-8",
        }

    def run(self, *command: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            command,
            cwd=self.outside,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )


def _check(command: list[str], cwd: Path) -> None:
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"{' '.join(command)}\n{result.stdout}\n{result.stderr}"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    top = tmp_path_factory.mktemp("wheel")
    assert not top.is_relative_to(ROOT)
    source = top / "source"
    for name in tracked_files("pyproject.toml", "README.md", "logistis"):
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, source / name)
    pip = [sys.executable, "-m", "pip"]
    _check([*pip, "wheel", "--quiet", "--no-deps", "--wheel-dir", str(top), str(source)], top)
    (built,) = top.glob("logistis-*.whl")
    return built


def _install(wheel: Path, top: Path, extras: str = "") -> Installed:
    venv = top / "venv"
    _check([sys.executable, "-m", "venv", "--without-pip", str(venv)], top)
    # The dependencies come from the package index (pip's cache makes that quick), so one
    # that pyproject does not name is missing here. Compiling them to bytecode would take
    # two thirds of the install's time, for modules the test mostly never imports.
    python = str(venv / "bin" / "python")
    pip = [sys.executable, "-m", "pip", "--python", python]
    _check([*pip, "install", "--quiet", "--no-compile", f"{wheel}{extras}"], top)
    outside = top / "outside"
    outside.mkdir()
    return Installed(wheel, venv / "bin", outside)


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Installed:
    return _install(wheel, tmp_path_factory.mktemp("installed"), "[collector]")


@pytest.fixture(scope="module")
def client_only(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Installed:
    return _install(wheel, tmp_path_factory.mktemp("client-only"))


def test_the_wheel_holds_only_the_logistis_package(installed: Installed) -> None:
    with zipfile.ZipFile(installed.wheel) as wheel:
        info = f"logistis-{VERSION}.dist-info"
        record = wheel.read(f"{info}/RECORD").decode().splitlines()
        top_level = wheel.read(f"{info}/top_level.txt").decode().split()
    assert {line.split("/", 1)[0] for line in record} == {"logistis", info}
    assert top_level == ["logistis"]


def test_every_file_the_package_loads_is_in_the_wheel(installed: Installed) -> None:
    with zipfile.ZipFile(installed.wheel) as wheel:
        inside = set(wheel.namelist())
    data = {name for name in tracked_files("logistis") if not name.endswith(".py")}
    assert {
        "logistis/collector/edge/openapi.json",
        "logistis/collector/store/codec-dictionary-1.json",
        "logistis/tui/logistis.tcss",
    } <= data
    assert data - inside == set()


@pytest.mark.parametrize("command", COMMANDS)
def test_the_installed_commands_answer_version_and_help(installed: Installed, command: str) -> None:
    version = installed.run(command, "--version")
    assert (version.returncode, version.stdout, version.stderr) == (0, f"{command} {VERSION}\n", "")
    usage = installed.run(command, "--help")
    assert usage.returncode == 0, usage.stderr
    assert usage.stdout.startswith("usage: ")
    assert "--version" in usage.stdout


def test_the_installed_collector_records_a_captured_request_and_the_tui_shows_it(
    installed: Installed, tmp_path: Path
) -> None:
    collector = CollectorProcess(
        tmp_path / "data",
        executable=installed.bin / "logistis-collector",
        cwd=installed.outside,
        env={"PATH": installed.env["PATH"]},
    )
    review = load(ALICE_CREATES_NGINX)["body"]
    with collector:
        (answer,) = post_reviews(collector, [review])
        assert answer.status_code == 200
        assert answer.json()["response"]["allowed"] is True
        with collector.client() as api:
            (event,) = api.get("/api/v1/events", params={"people": "false"}).json()["items"]
            assert event["uid"] == review["request"]["uid"]
            recorded = api.get(f"/api/v1/events/{event['id']}").json()
            assert recorded["object"]["spec"] == review["request"]["object"]["spec"]
            openapi = api.get("/api/v1/openapi.json")
            assert openapi.status_code == 200
            assert "/api/v1/events" in json.loads(openapi.content)["paths"]
        script = installed.outside / "tui_rows.py"
        shutil.copy(Path(__file__).with_name("tui_rows.py"), script)
        rows = installed.run(str(installed.bin / "python"), str(script), collector.api_url)
    assert rows.returncode == 0, rows.stderr
    assert rows.stdout.splitlines() == ["team-a/nginx"]


def test_the_clients_install_without_the_servers_dependencies(
    client_only: Installed, tmp_path: Path
) -> None:
    listed = client_only.run(
        str(client_only.bin / "python"),
        "-c",
        "import importlib.metadata as m; print(*(d.metadata['Name'] for d in m.distributions()))",
    )
    assert listed.returncode == 0, listed.stderr
    names = {name.lower() for name in listed.stdout.split()}
    assert "httpx" in names
    assert names & SERVER_ONLY == set()
    collector = CollectorProcess(tmp_path / "data")
    with collector:
        post_reviews(collector, [load(ALICE_CREATES_NGINX)["body"]])
        blamed = client_only.run(
            "kubectl-logistis", "blame", "deploy/nginx", "-n", "team-a", "--url", collector.api_url
        )
    assert blamed.returncode == 0, blamed.stderr
    assert blamed.stdout.splitlines()[1].split()[:3] == ["deployment.apps/nginx", "CREATE", "alice"]


def test_the_collector_without_its_extra_says_what_to_install(client_only: Installed) -> None:
    result = client_only.run("logistis-collector", "--data-dir", str(client_only.outside / "d"))
    assert result.returncode == 3  # ExitCode.NOT_INSTALLED
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert result.stderr.endswith("pip install 'logistis[collector]'\n")

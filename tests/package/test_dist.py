"""The krew archive `make dist` builds, installed as krew would, away from the repository.

tools/dist.py builds the archive and its manifest into a temporary folder; the archive is
unpacked into an empty one, put on a PATH whose python3 is a bare interpreter (a virtualenv
with nothing installed, not the project's), and the real kubectl finds the plugin there.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests.blame.conftest import Fed, fed  # noqa: F401 (the session's fed collector)
from tests.package.tracked import ROOT

KUBECTL = shutil.which("kubectl")
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
ARCHIVE = f"kubectl-logistis_v{VERSION}.tar.gz"
SERVER_ONLY = ("aiohttp", "aiosqlite", "asyncpg", "celpy", "cel", "zstandard", "uvloop", "textual")


@dataclass(frozen=True)
class Built:
    archive: Path
    manifest: dict
    installed: Path  # where the archive was unpacked
    python: Path  # the folder of the bare python3 on PATH
    env: dict[str, str]

    def kubectl(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(KUBECTL), *args],
            cwd=self.installed,
            env={**self.env, **env},
            capture_output=True,
            text=True,
            timeout=60,
        )


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    assert KUBECTL, "the real kubectl must be on PATH: plugin discovery is what is tested"
    top = tmp_path_factory.mktemp("dist")
    manifest = top / "logistis.yaml"
    subprocess.run(
        [sys.executable, str(ROOT / "tools" / "dist.py"), "--out", str(top), "--manifest", str(manifest)],
        check=True,
        capture_output=True,
        timeout=300,
    )  # fmt: skip
    installed = top / "installed"
    installed.mkdir()
    with tarfile.open(top / ARCHIVE) as tar:
        tar.extractall(installed, filter="data")
    bare = top / "python"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(bare)], check=True)
    path = os.pathsep.join(
        [str(installed), str(bare / "bin"), str(Path(KUBECTL).parent), "/usr/bin", "/bin"]
    )
    env = {"PATH": path, "HOME": str(top), "LANG": "C.UTF-8", "COLUMNS": "120"}
    manifest_text = yaml.safe_load(manifest.read_text())
    return Built(top / ARCHIVE, manifest_text, installed, bare / "bin", env)


def test_the_manifest_is_krews_and_names_the_archive(built: Built) -> None:
    m = built.manifest
    assert (m["apiVersion"], m["kind"]) == (
        "krew.googlecontainertools.github.com/v1alpha2",
        "Plugin",
    )
    assert m["metadata"]["name"] == "logistis"
    spec = m["spec"]
    assert spec["version"] == f"v{VERSION}"
    assert spec["homepage"].startswith("https://")
    assert spec["shortDescription"]
    assert spec["description"]
    assert "python3" in spec["caveats"]
    assert "3.11" in spec["caveats"]
    (platform,) = spec["platforms"]
    assert platform["bin"] == "kubectl-logistis"
    assert platform["uri"].endswith(f"/v{VERSION}/{ARCHIVE}")
    assert platform["sha256"] == hashlib.sha256(built.archive.read_bytes()).hexdigest()
    assert {e["values"][0] for e in platform["selector"]["matchExpressions"]} <= {"darwin", "linux"}


def test_the_archive_is_the_same_bytes_when_built_again(built: Built, tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, str(ROOT / "tools" / "dist.py"), "--out", str(tmp_path), "--manifest", str(tmp_path / "m.yaml")],
        check=True,
        capture_output=True,
        timeout=300,
    )  # fmt: skip
    assert (tmp_path / ARCHIVE).read_bytes() == built.archive.read_bytes()


def test_the_zipapp_carries_pure_python_client_code_only(built: Built) -> None:
    with zipfile.ZipFile(built.installed / "kubectl-logistis") as app:
        names = app.namelist()
    tops = {name.split("/", 1)[0].removesuffix(".py") for name in names}
    assert {"logistis", "httpx", "httpcore", "anyio", "jsonpatch", "yaml", "certifi"} <= tops
    assert not tops & set(SERVER_ONLY)
    assert not [n for n in names if n.startswith(("logistis/collector/", "logistis/tui/"))]
    assert not [n for n in names if n.endswith((".so", ".pyd", ".pyc"))]


def test_the_bare_python_on_path_has_none_of_the_dependencies(built: Built) -> None:
    found = subprocess.run(
        ["python3", "-c", "import httpx"], env=built.env, capture_output=True, text=True, timeout=60
    )
    assert found.returncode != 0, "the test's python3 must not have the plugin's dependencies"


def test_kubectl_finds_the_unpacked_plugin_and_it_blames(built: Built, fed: Fed) -> None:  # noqa: F811
    version = built.kubectl("logistis", "--version")
    assert (version.returncode, version.stdout) == (0, f"kubectl-logistis {VERSION}\n")
    blamed = built.kubectl(
        "logistis", "blame", "deployment/nginx", "-n", "team-a", LOGISTIS_URL=fed.url
    )
    assert blamed.returncode == 0, blamed.stderr
    assert blamed.stdout.splitlines()[1].split()[:3] == ["deployment.apps/nginx", "DELETE", "alice"]
    completed = built.kubectl(
        "__complete", "logistis", "blame", "deploy", "-n", "team-a", "", LOGISTIS_URL=fed.url
    )
    assert completed.stdout.splitlines() == ["api", "nginx", "web", ":4"]


OLD_PYTHON = Path("/root/.pyenv/versions/3.10.13/bin/python3.10")


@pytest.mark.skipif(not OLD_PYTHON.exists(), reason="needs a Python 3.10 to stand for an old one")
def test_an_older_python3_is_named_not_a_traceback(built: Built, tmp_path: Path) -> None:
    old = tmp_path / "old"
    old.mkdir()
    (old / "python3").symlink_to(OLD_PYTHON)
    path = built.env["PATH"].replace(str(built.python), str(old))
    result = built.kubectl("logistis", "--version", PATH=path)
    assert result.returncode == 1
    assert result.stderr == (
        "error: kubectl-logistis needs Python 3.11 or newer as python3 on PATH; found 3.10.13\n"
    )

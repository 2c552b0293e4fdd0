"""The Dockerfile and its build context, parsed (no container engine runs here)."""

from __future__ import annotations

import fnmatch
import json
import re
import tomllib
from dataclasses import dataclass, field

import pytest

from tests.deploy.kustomize import BASE, ROOT, find, render

BUILD_TOOLS = re.compile(r"\b(apt-get install|apk add|yum install|gcc|g\+\+|make|pip install)\b")


@dataclass(frozen=True)
class Instruction:
    keyword: str
    arguments: str


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [i.arguments for i in self.instructions if i.keyword == keyword]

    def last(self, keyword: str) -> str:
        return self.all(keyword)[-1]


@dataclass
class Dockerfile:
    global_args: dict[str, str | None]
    stages: list[Stage]


def logical_lines(text: str) -> list[str]:
    """Instructions with their continuation lines joined; comments dropped."""
    lines: list[str] = []
    pending = ""
    for raw in text.splitlines():
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        lines.append(pending + stripped)
        pending = ""
    assert not pending, "the last instruction ends with a continuation"
    return lines


def parse_dockerfile(text: str) -> Dockerfile:
    global_args: dict[str, str | None] = {}
    stages: list[Stage] = []
    for line in logical_lines(text):
        keyword, _, arguments = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            base, _, name = arguments.partition(" AS ")
            stages.append(Stage(base.strip(), name.strip() or None))
        elif stages:
            stages[-1].instructions.append(Instruction(keyword, arguments.strip()))
        else:
            assert keyword == "ARG", f"{keyword} before the first FROM"
            arg, _, default = arguments.partition("=")
            global_args[arg] = default or None
    return Dockerfile(global_args, stages)


def ignored(patterns: list[str], path: str) -> bool:
    """.dockerignore semantics: the last pattern matching the path or a parent decides."""
    parts = path.split("/")
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    verdict = False
    for pattern in patterns:
        negated = pattern.startswith("!")
        cleaned = pattern.lstrip("!").rstrip("/")
        if any(fnmatch.fnmatch(c, cleaned) for c in candidates):
            verdict = not negated
        if cleaned.startswith("**/") and any(fnmatch.fnmatch(part, cleaned[3:]) for part in parts):
            verdict = not negated
    return verdict


@pytest.fixture(scope="module")
def dockerfile() -> Dockerfile:
    return parse_dockerfile((ROOT / "Dockerfile").read_text())


@pytest.fixture(scope="module")
def dockerignore() -> list[str]:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def test_base_and_run_images_are_build_arguments(dockerfile: Dockerfile) -> None:
    assert set(dockerfile.global_args) >= {"BASEIMAGE", "RUNIMAGE"}
    for arg in ("BASEIMAGE", "RUNIMAGE"):
        default = dockerfile.global_args[arg]
        assert default is not None
        assert default.startswith("python:3.")
        assert "slim" in default
    build, run = dockerfile.stages
    assert build.base == "${BASEIMAGE}"
    assert build.name == "build"
    assert run.base == "${RUNIMAGE}"


def test_the_wheel_is_built_and_installed_into_a_venv_in_the_build_stage(
    dockerfile: Dockerfile,
) -> None:
    build, _ = dockerfile.stages
    (command,) = build.all("RUN")
    assert "pip wheel" in command
    assert "venv --without-pip /opt/logistis" in command
    assert "--python /opt/logistis/bin/python install" in command


def test_the_run_stage_has_no_build_tools(dockerfile: Dockerfile) -> None:
    _, run = dockerfile.stages
    for command in run.all("RUN"):
        assert not BUILD_TOOLS.search(command), command
    assert any("pip uninstall" in command and " pip " in command for command in run.all("RUN"))
    assert run.all("COPY") == ["--from=build /opt/logistis /opt/logistis"]
    assert "PATH=/opt/logistis/bin:$PATH" in run.last("ENV")


def test_the_collector_runs_as_the_non_root_user_the_pod_expects(dockerfile: Dockerfile) -> None:
    _, run = dockerfile.stages
    user, _, group = run.last("USER").partition(":")
    assert user.isdigit()
    assert group.isdigit()
    assert int(user) > 0
    pod = find(render(BASE), "StatefulSet")["spec"]["template"]["spec"]["securityContext"]
    assert (int(user), int(group)) == (pod["runAsUser"], pod["runAsGroup"])
    assert any(f"chown {user}:{group} /data" in command for command in run.all("RUN"))


def test_the_entrypoint_is_the_collector_on_the_data_volume(dockerfile: Dockerfile) -> None:
    _, run = dockerfile.stages
    entrypoint = json.loads(run.last("ENTRYPOINT"))
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert entrypoint[0] == "logistis-collector"
    assert entrypoint[0] in scripts
    assert entrypoint[1:] == ["--data-dir", "/data", "--log-format", "json"]
    assert run.all("VOLUME") == ["/data"]
    assert run.all("EXPOSE") == ["8443"]


def test_the_build_context_is_only_what_the_wheel_needs(
    dockerfile: Dockerfile, dockerignore: list[str]
) -> None:
    build, _ = dockerfile.stages
    for copy in build.all("COPY"):
        *sources, _ = copy.split()
        for source in sources:
            assert not ignored(dockerignore, source.rstrip("/")), source
            assert (ROOT / source).exists(), source
    for package in (
        "logistis/collector/trust/tls.py",
        "logistis/tui/__init__.py",
        "logistis/collector/edge/openapi.json",
    ):
        assert not ignored(dockerignore, package)
    for private in (".venv", ".git", ".logistis/logistis.db", ".local/Makefile", "tests"):
        assert ignored(dockerignore, private), private
    assert ignored(dockerignore, "logistis/collector/__pycache__/tls.cpython-311.pyc")


def test_every_package_setuptools_finds_is_copied(dockerfile: Dockerfile) -> None:
    build, _ = dockerfile.stages
    copied = {copy.split()[0] for copy in build.all("COPY")}
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    for pattern in config["tool"]["setuptools"]["packages"]["find"]["include"]:
        assert pattern.rstrip("*") in copied
    assert config["project"]["readme"] in " ".join(build.all("COPY"))

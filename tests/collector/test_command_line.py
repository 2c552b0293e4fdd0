"""`logistis-collector`'s mistakes as kubectl reports its own: the error and where to read
more, one line for a setting that cannot be used, nothing left behind by a start that failed."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

import logistis.collector
from logistis.collector.errors import CollectorError, ExitCode
from tests.support.collector import free_port, run_collector_command


@pytest.mark.parametrize(
    ("argv", "error"),
    [
        (["--nope"], "unrecognized arguments: --nope"),
        (["--log-format", "xml"], "--log-format"),
        (
            ["migrate-store", "--from", "sqlite:///a.db", "--to", "sqlite:///b.db", "--nope"],
            "--nope",
        ),
    ],
)
def test_a_usage_mistake_is_the_error_and_see_help(argv: list[str], error: str) -> None:
    result = run_collector_command(argv)
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert len(lines) <= 3, result.stderr
    assert error in lines[0]
    assert lines[-1].startswith("See 'logistis-collector")
    assert lines[-1].endswith("--help'.")


def test_a_wrong_value_is_one_line_naming_its_flag_or_variable(tmp_path: Path) -> None:
    by_flag = run_collector_command(["--drain-seconds", "soon"])
    assert (by_flag.returncode, by_flag.stderr) == (
        ExitCode.USAGE,
        "logistis-collector: --drain-seconds: 'soon' is not a number of seconds\n",
    )
    environ = {"PATH": "/usr/bin:/bin", "LOGISTIS_MAX_AGE": "forever"}
    by_env = run_collector_command([], env=environ)
    assert (by_env.returncode, by_env.stderr) == (
        ExitCode.USAGE,
        "logistis-collector: LOGISTIS_MAX_AGE: 'forever' is not a duration like 90m, 36h or 30d\n",
    )


def test_the_help_shows_the_defaults() -> None:
    shown = run_collector_command(["--help"])
    assert shown.returncode == ExitCode.OK
    assert "(default 127.0.0.1:8080) [LOGISTIS_API_LISTEN]" in " ".join(shown.stdout.split())


def test_an_unusable_data_dir_is_one_line_naming_the_flag(tmp_path: Path) -> None:
    (tmp_path / "a-file").touch()
    data_dir = tmp_path / "a-file" / "data"
    result = run_collector_command(["--data-dir", str(data_dir), *loopback()])
    assert result.returncode == 2
    assert result.stderr == f"logistis-collector: --data-dir {data_dir}: Not a directory\n"


def test_an_unusable_redaction_key_file_is_one_line_naming_the_flag(tmp_path: Path) -> None:
    (tmp_path / "a-file").touch()
    key = tmp_path / "a-file" / "key"
    argv = ["--data-dir", str(tmp_path / "data"), "--redaction-key-file", str(key), *loopback()]
    result = run_collector_command(argv)
    assert result.returncode == 2
    assert result.stderr == f"logistis-collector: --redaction-key-file {key}: Not a directory\n"


def test_a_store_that_does_not_answer_leaves_nothing_behind(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    store = f"postgresql://logistis@127.0.0.1:{free_port()}/logistis"
    result = run_collector_command(["--data-dir", str(data_dir), "--store", store, *loopback()])
    assert result.returncode == 1
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert not data_dir.exists()  # no redaction.key made for a history that never started


def test_a_redaction_key_too_short_is_one_line_naming_the_file(tmp_path: Path) -> None:
    key = tmp_path / "key"
    key.write_bytes(b"short")
    argv = ["--data-dir", str(tmp_path / "data"), "--redaction-key-file", str(key), *loopback()]
    result = run_collector_command(argv)
    assert result.returncode == ExitCode.USAGE
    assert result.stderr == (
        f"logistis-collector: {key}: redaction key must be at least 16 bytes\n"
    )


def test_a_port_taken_is_one_line_and_exit_1(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        argv = ["--data-dir", str(tmp_path / "data"), *loopback()]
        argv[argv.index("--api-listen") + 1] = f"127.0.0.1:{port}"
        result = run_collector_command(argv)
    assert result.returncode == ExitCode.ERROR
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert result.stderr.startswith("logistis-collector: ")


def test_without_the_collector_extra_it_says_what_to_install(tmp_path: Path) -> None:
    # A dependency of the extra made unimportable, as a client-only install leaves it.
    script = (
        "import sys; sys.modules['uvloop'] = None; "
        "from logistis.collector.cli import main; sys.exit(main(sys.argv[1:]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, "--data-dir", str(tmp_path / "data")],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == ExitCode.NOT_INSTALLED
    assert result.stderr == (
        "logistis-collector: needs the collector's dependencies (uvloop is not installed): "
        "pip install 'logistis[collector]'\n"
    )
    assert not (tmp_path / "data").exists()


def test_every_collector_exception_derives_from_collector_error() -> None:
    defined = [
        value
        for module in _collector_modules()
        for value in vars(module).values()
        if inspect.isclass(value)
        and issubclass(value, BaseException)
        and value.__module__ == module.__name__
    ]
    assert len(defined) >= 20
    assert [e.__name__ for e in defined if not issubclass(e, CollectorError)] == []


def _collector_modules() -> list[object]:
    names = pkgutil.walk_packages(logistis.collector.__path__, "logistis.collector.")
    return [importlib.import_module(info.name) for info in names]


def loopback() -> list[str]:
    return [
        "--webhook-listen", f"127.0.0.1:{free_port()}",
        "--api-listen", f"127.0.0.1:{free_port()}",
        "--log-level", "warning",
    ]  # fmt: skip

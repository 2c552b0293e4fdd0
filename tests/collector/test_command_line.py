"""`logistis-collector`'s mistakes as kubectl reports its own: the error and where to read
more, one line for a setting that cannot be used, nothing left behind by a start that failed."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.collector import free_port, run_collector_command


@pytest.mark.parametrize(
    ("argv", "error"),
    [
        (["--nope"], "unrecognized arguments: --nope"),
        (["--drain-seconds", "soon"], "--drain-seconds"),
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


def loopback() -> list[str]:
    return [
        "--webhook-listen", f"127.0.0.1:{free_port()}",
        "--api-listen", f"127.0.0.1:{free_port()}",
        "--log-level", "warning",
    ]  # fmt: skip

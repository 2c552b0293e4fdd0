"""`logistis-collector`: flags in, a running collector out, one readable line on failure."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence

from logistis.collector.errors import CollectorError, ExitCode

PROG = "logistis-collector"

Command = Callable[[Sequence[str]], int]


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    name = argv[0] if argv[:1] in (["migrate-store"], ["notify"]) else ""
    prog = f"{PROG} {name}" if name else PROG
    try:
        command = _load(name)
    except ModuleNotFoundError as error:
        # Installed without the `collector` extra: the clients work, the server cannot start.
        print(
            f"{prog}: needs the collector's dependencies ({error.name} is not installed): "
            "pip install 'logistis[collector]'",
            file=sys.stderr,
        )
        return ExitCode.NOT_INSTALLED
    return in_one_line(prog, lambda: command(argv[1:] if name else argv))


def in_one_line(prog: str, run: Callable[[], int]) -> int:
    """`run`'s exit code; a failure is one line on stderr, never a traceback: these are the
    operator's to fix (flag, file, cluster, a port taken, a file unreadable)."""
    try:
        return run()
    except CollectorError as error:
        print(f"{prog}: {error}", file=sys.stderr)
        return error.exit_code
    except OSError as error:
        print(f"{prog}: {error}", file=sys.stderr)
        return ExitCode.ERROR
    except KeyboardInterrupt:
        return ExitCode.INTERRUPTED


def _load(name: str) -> Command:
    """The command's module, imported only when asked for (and only if installed)."""
    if name == "migrate-store":
        from logistis.collector.commands import migrate

        return migrate.main
    if name == "notify":
        from logistis.collector.commands import notify

        return notify.main
    return _collector()


def _collector() -> Command:
    import uvloop

    from logistis.collector import logs
    from logistis.collector.interpreter import tune_for_serving
    from logistis.collector.server import serve
    from logistis.collector.settings import from_args

    def collect(argv: Sequence[str]) -> int:
        settings = from_args(argv)
        logs.configure(settings.log_format, settings.log_level)
        tune_for_serving()
        # uvloop: about a third less CPU per TLS request than asyncio's own loop.
        uvloop.run(serve(settings))
        return ExitCode.OK

    return collect


if __name__ == "__main__":
    sys.exit(main())

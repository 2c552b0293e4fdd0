"""`kubectl-blame`: the console script, so that `kubectl blame ...` works once it is on PATH;
`execute` runs `kubectl logistis`'s subcommands the same way (`tui.blame.plugin`).

Every failure ends as one line on stderr and an exit code of its own (`ExitCode`).
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Mapping, Sequence

from logistis.client.connect import connect
from logistis.client.portforward import PortForwardError
from logistis.client.protocol import CollectorError, CollectorHTTPError, CollectorUnreachable
from logistis.kubectl.blame import Blame
from logistis.kubectl.commands import run
from logistis.kubectl.errors import BlameError, ExitCode
from logistis.kubectl.flags import BLAME, Syntax, parse
from logistis.kubectl.options import Dialect, Options
from logistis.kubectl.pager import paged, pager_command
from logistis.kubectl.terminal import Terminal


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] = os.environ) -> int:
    return execute(sys.argv[1:] if argv is None else argv, environ, BLAME)


def execute(args: Sequence[str], environ: Mapping[str, str], syntax: Syntax) -> int:
    """Run one command typed as `syntax` says; the exit code for every outcome."""
    try:
        options = parse(args, environ, syntax)
        terminal = Terminal.detect(no_color=options.no_color, environ=environ)
        with paged(terminal, _pager(options, environ)) as shown:
            return asyncio.run(_blame(options, shown, environ))
    except BlameError as error:
        return _fail(str(error), error.code)
    except PortForwardError as error:
        return _fail(f"cannot open a port-forward to the collector: {error}", ExitCode.PORT_FORWARD)
    except CollectorUnreachable as error:
        return _fail(str(error), ExitCode.UNREACHABLE)
    except CollectorHTTPError as error:
        return _fail(str(error), ExitCode.COLLECTOR_ERROR)
    except CollectorError as error:
        return _fail(str(error), ExitCode.ERROR)
    except KeyboardInterrupt:
        return ExitCode.INTERRUPTED
    except BrokenPipeError:
        # The reader left (`| head`); nothing more to say, and nothing to say it to.
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115
        return ExitCode.OK


async def _blame(options: Options, terminal: Terminal, environ: Mapping[str, str]) -> ExitCode:
    async with connect(
        options.url,
        context=options.context,
        kubeconfig=options.kubeconfig,
        namespace=options.collector_namespace,
        via=options.via,
    ) as client:
        return await run(Blame(options, client, terminal, environ))


def _pager(options: Options, environ: Mapping[str, str]) -> str | None:
    """kubectl logistis pages a terminal's output; kubectl-blame never did (k9s pipes it)."""
    if options.dialect is not Dialect.KUBECTL or options.no_pager or options.watch:
        return None
    return pager_command(environ)


def _fail(message: str, code: ExitCode) -> int:
    sys.stderr.write(f"error: {message}\n")
    return code


if __name__ == "__main__":
    sys.exit(main())

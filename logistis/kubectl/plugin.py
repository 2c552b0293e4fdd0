"""`kubectl-logistis`: the console script of `kubectl logistis`, one plugin with subcommands.

`blame` is `kubectl blame` in kubectl's words; `log`, `diff`, `who` and `top` are views of the same
history. `kubectl-blame` stays for the original plugin's syntax.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence

from logistis.kubectl.cli import execute
from logistis.kubectl.complete import complete
from logistis.kubectl.errors import ExitCode
from logistis.kubectl.subcommands import ALIASES, NAME, SUBCOMMANDS
from logistis.version import installed_version

HELP = """\
usage: kubectl logistis COMMAND [args] [flags]

The history of every change to the cluster, recorded by the logistis collector.

commands:
  blame   who changed what, when and how, down to the field
  log     the change log of an object, a kind or a namespace
  diff    the difference between two versions of an object
  who     the people who changed things (also: people)
  top     the most active people, namespaces, types and objects

flags:
  -h, --help   this help; `kubectl logistis COMMAND --help` for a command's flags and examples
  --version    print the version and exit

`kubectl blame` is the same blame in the original logistis plugin's syntax.
"""


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] = os.environ) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    first = args[0] if args else "--help"
    if first == "__complete":
        return complete(args[1:], environ)
    if first in ("-h", "--help", "help"):
        sys.stdout.write(HELP)
        return ExitCode.OK
    if first == "--version":
        sys.stdout.write(f"{NAME} {installed_version()}\n")
        return ExitCode.OK
    syntax = SUBCOMMANDS.get(ALIASES.get(first, first))
    if syntax is None:
        sys.stderr.write(
            f'error: unknown command "{first}" for "kubectl logistis": '
            f"one of {', '.join(SUBCOMMANDS)} (kubectl logistis --help)\n"
        )
        return ExitCode.USAGE
    return execute(args[1:], environ, syntax)


if __name__ == "__main__":
    sys.exit(main())

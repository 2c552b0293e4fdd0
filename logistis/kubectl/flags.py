"""The command line of `kubectl blame` and of `kubectl logistis`'s subcommands, in kubectl's
own conventions, read into `Options`.

`kubectl blame [TYPE [NAME...] | TYPE/NAME...] [flags]`. Every mistake becomes one line on
stderr and exit code 2, never argparse's usage dump.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import NoReturn

from logistis.client.connect import Via
from logistis.client.events import ACTOR_KINDS, MANAGING_TOOLS, TOOLS
from logistis.client.portforward import DEFAULT_NAMESPACE as COLLECTOR_NAMESPACE
from logistis.client.timeparse import BadTime, parse_time
from logistis.kubectl.errors import MEANINGS, BlameError, ExitCode
from logistis.kubectl.labels import parse_selector
from logistis.kubectl.options import (
    DEFAULT_LIMIT,
    OPERATIONS,
    Command,
    Dialect,
    Options,
    Output,
    check,
)
from logistis.version import add_version_flag

EXIT_CODES = "exit codes:\n" + "\n".join(
    f"  {code.value:>3}  {meaning}" for code, meaning in MEANINGS.items()
)
EXAMPLES = (
    """\
examples:
  # Latest changes in every namespace, then in one
  kubectl blame
  kubectl blame -n team-a

  # Who changed the deployments in team-a, and how (the JSON-patch operations)
  kubectl blame deployments -n team-a
  kubectl blame deploy/nginx -n team-a -o diff

  # Each line of the current object, annotated with who last changed it
  kubectl blame deployment nginx -n team-a --fields

  # The hand edits of what Argo CD manages: ✋ stuck, ✋↩ put back by Argo CD (↩)
  kubectl blame -A --hand-edits --managed-by argocd

  # Only alice's updates in the last two hours, for a script
  kubectl blame deploy -n team-a --user alice --operation update --since 2h -o json

  # The object as it was at a time or after an event, and between two versions
  kubectl blame deploy nginx -n team-a --at 2026-11-25T01:47:40Z
  kubectl blame --event 71
  kubectl blame deploy nginx -n team-a --diff-from 59 --diff-to 84

  # Straight to a collector instead of through kubectl port-forward (also LOGISTIS_URL)
  kubectl blame deploy -n team-a --url http://127.0.0.1:8080

  # As k9s plugins call it
  kubectl-blame deployments nginx -n team-a --context kind-dev

"""
    + EXIT_CODES
)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise BlameError(message, ExitCode.USAGE)


@dataclass(frozen=True, slots=True)
class Syntax:
    """How one command is typed: its name, usage line, description and examples."""

    prog: str
    usage: str
    description: str
    examples: str = EXAMPLES
    dialect: Dialect = Dialect.ORIGINAL
    command: Command = Command.BLAME
    version_name: str = "kubectl-blame"


BLAME = Syntax(
    prog="kubectl blame",
    usage="kubectl blame [TYPE [NAME...] | TYPE/NAME...] [flags]",
    description="Who changed what in the cluster, when and how, down to the field: "
    "the history recorded by the logistis collector.",
)


def build_parser(syntax: Syntax = BLAME) -> argparse.ArgumentParser:
    parser = _Parser(
        prog=syntax.prog,
        usage=syntax.usage,
        description=syntax.description,
        epilog=syntax.examples,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("args", nargs="*", metavar="TYPE [NAME...]", help=argparse.SUPPRESS)
    where = parser.add_argument_group("what to look at")
    where.add_argument("-n", "--namespace", help="the namespace (default: the context's)")
    where.add_argument("-A", "--all-namespaces", action="store_true", help="every namespace")
    where.add_argument("--context", help="the kubeconfig context to use")
    where.add_argument("--kubeconfig", help="the kubeconfig file to use")
    _add_filters(parser.add_argument_group("filters"), syntax.dialect)
    _add_output(parser.add_argument_group("output"), syntax)
    _add_history(parser.add_argument_group("time travel (one object)"), syntax.command)
    reach = parser.add_argument_group("reaching the collector")
    reach.add_argument(
        "--url", metavar="URL", help="the collector's API URL, no port-forward (env LOGISTIS_URL)"
    )
    Via.add_flag(reach)
    reach.add_argument(
        "--collector-namespace",
        metavar="NS",
        help=f"where the collector runs, for the port-forward (default {COLLECTOR_NAMESPACE}; "
        "env LOGISTIS_NAMESPACE)",
    )
    add_version_flag(parser, syntax.version_name)
    return parser


def _add_filters(group: argparse._ArgumentGroup, dialect: Dialect) -> None:
    group.add_argument(
        "--user", metavar="NAME", help="only this user (a glob with * matches several)"
    )
    group.add_argument(
        "--operation", type=str.upper, choices=OPERATIONS, help="only this operation"
    )
    group.add_argument(
        "--since", metavar="TIME", help="only changes since a time or a duration ago (2h, 7d)"
    )
    group.add_argument(
        "--until", metavar="TIME", help="only changes until a time or a duration ago"
    )
    kubectl = dialect is Dialect.KUBECTL
    group.add_argument(
        "--people",
        action="store_true",
        # The default in kubectl logistis, still accepted there.
        help=argparse.SUPPRESS if kubectl else "leave out controllers and other system:* users",
    )
    group.add_argument(
        "--all-actors",
        action="store_true",
        help="controllers, service accounts and other system:* users too (default: people only)"
        if kubectl
        else argparse.SUPPRESS,
    )
    group.add_argument(
        "--hand-edits",
        action="store_true",
        help="only hand edits: changes to what Argo CD, Flux or Helm manages by anyone else",
    )
    group.add_argument(
        "--actor", type=str.lower, choices=ACTOR_KINDS, help="only changes by this kind of actor"
    )
    group.add_argument(
        "--tool", type=str.lower, choices=TOOLS, help="only changes made through this tool"
    )
    group.add_argument(
        "--managed-by",
        type=str.lower,
        choices=MANAGING_TOOLS,
        help="only changes to objects this tool managed at the time",
    )
    group.add_argument(
        "-l",
        "--selector",
        metavar="SELECTOR",
        help="only objects whose labels match, as kubectl's -l (their latest recorded version)",
    )
    group.add_argument(
        "--limit",
        type=_positive,
        default=DEFAULT_LIMIT,
        metavar="N",
        help=f"at most this many events (default {DEFAULT_LIMIT})",
    )


def _add_output(group: argparse._ArgumentGroup, syntax: Syntax) -> None:
    # -f/--format is how the original logistis plugin spelled it (`kubectl blame deployment -f diff`).
    default = Output.DIFF if syntax.command is Command.DIFF else Output.TABLE
    group.add_argument(
        "-o",
        "--output",
        "-f",
        "--format",
        type=str.lower,
        choices=[o.value for o in Output],
        default=default.value,
        metavar="FORMAT",
        help=f"table, wide, diff, patch, json, yaml or name (default {default}); "
        "-f/--format is the same flag",
    )
    group.add_argument("--no-headers", action="store_true", help="tables without their header")
    group.add_argument(
        "-w", "--watch", action="store_true", help="after the list, print new changes as they come"
    )
    group.add_argument(
        "--no-pager",
        action="store_true",
        help="never page"
        if syntax.dialect is Dialect.KUBECTL
        else argparse.SUPPRESS,  # kubectl-blame never pages
    )
    group.add_argument(
        "--fields",
        action="store_true",
        help="annotate each line of the object with its last writer",
    )
    group.add_argument(
        "--show-managed-fields",
        dest="show_noise",
        action="store_true",
        help="show managedFields, resourceVersion and the other fields the server rewrites",
    )
    group.add_argument(
        "-U",
        "--context-lines",
        type=_count,
        default=3,
        metavar="N",
        help="diff context lines (default 3)",
    )
    group.add_argument("--no-color", action="store_true", help="never color (also NO_COLOR)")


def _add_history(group: argparse._ArgumentGroup, command: Command) -> None:
    group.add_argument(
        "--at", metavar="TIME", help="the object as it was at TIME (RFC 3339 or 2h ago)"
    )
    group.add_argument(
        "--event", type=_positive, metavar="ID", help="the object as event ID left it"
    )
    # `kubectl logistis diff` spells them --from and --to.
    spelled = ("--from", "--diff-from") if command is Command.DIFF else ("--diff-from",)
    group.add_argument(
        *spelled, dest="diff_from", metavar="A", help="diff from version A: an event id or a time"
    )
    spelled = ("--to", "--diff-to") if command is Command.DIFF else ("--diff-to",)
    group.add_argument(
        *spelled, dest="diff_to", metavar="B", help="diff to version B (default: the latest)"
    )


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number")
    return int(text)


def _count(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not a number")
    return int(text)


def parse(
    argv: Sequence[str], environ: Mapping[str, str] = os.environ, syntax: Syntax = BLAME
) -> Options:
    ns = build_parser(syntax).parse_args(list(argv))
    kind, names = _type_and_names(ns.args)
    for flag in ("since", "until", "at"):
        _check_time(flag, getattr(ns, flag))
    options = Options(
        type=kind,
        names=names,
        namespace=ns.namespace,
        all_namespaces=ns.all_namespaces,
        context=ns.context,
        kubeconfig=ns.kubeconfig,
        url=ns.url or environ.get("LOGISTIS_URL") or None,
        collector_namespace=ns.collector_namespace
        or environ.get("LOGISTIS_NAMESPACE")
        or COLLECTOR_NAMESPACE,
        via=Via(ns.via),
        user=ns.user,
        operation=ns.operation,
        since=ns.since,
        until=ns.until,
        limit=ns.limit,
        people=ns.people,
        output=Output(ns.output),
        fields=ns.fields,
        at=ns.at,
        event=ns.event,
        diff_from=ns.diff_from,
        diff_to=ns.diff_to,
        show_noise=ns.show_noise,
        no_color=ns.no_color,
        context_lines=ns.context_lines,
        selector=parse_selector(ns.selector) if ns.selector is not None else None,
        watch=ns.watch,
        no_headers=ns.no_headers,
        no_pager=ns.no_pager,
        all_actors=ns.all_actors,
        dialect=syntax.dialect,
        command=syntax.command,
        hand_edits=ns.hand_edits,
        actor=ns.actor,
        tool=ns.tool,
        managed_by=ns.managed_by,
    )
    check(options)
    return options


def _type_and_names(args: list[str]) -> tuple[str | None, tuple[str, ...]]:
    if not args:
        return None, ()
    slashed = [a for a in args if "/" in a]
    if not slashed:
        return args[0], tuple(args[1:])
    if len(slashed) != len(args):
        raise BlameError(
            "there is no need to specify a resource type as a separate argument when passing "
            "arguments in resource/name form",
            ExitCode.USAGE,
        )
    pairs = [a.split("/", 1) for a in args]
    if any(not kind or not name or "/" in name for kind, name in pairs):
        raise BlameError(
            f"arguments in resource/name form must have a single resource and name: {args}",
            ExitCode.USAGE,
        )
    kinds = {kind.lower() for kind, _ in pairs}
    if len(kinds) > 1:
        raise BlameError("one resource type at a time, please", ExitCode.USAGE)
    return pairs[0][0], tuple(name for _, name in pairs)


def _check_time(flag: str, value: str | None) -> None:
    if value is None:
        return
    try:
        parse_time(value)
    except BadTime as error:
        raise BlameError(f"--{flag.replace('_', '-')}: {error}", ExitCode.USAGE) from None

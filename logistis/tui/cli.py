"""`logistis-tui`: flags in, the app on the terminal, an exit code out."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from logistis.client.connect import Via
from logistis.client.events import EventFilter
from logistis.client.portforward import DEFAULT_NAMESPACE
from logistis.tui.app import ConnectionSettings, LogistisApp
from logistis.tui.web import DEFAULT_LISTEN, WebError, listen_address, serve
from logistis.version import add_version_flag

EPILOG = """\
examples:
  logistis-tui                              the cluster's Kubernetes API if it serves the
                                            history, else a port-forward to the collector
  logistis-tui --via port-forward           always the port-forward (namespace logistis)
  logistis-tui -n team-a                    the history of namespace team-a (-A: all)
  logistis-tui --context prod --collector-namespace audit
                                            another cluster, collector in namespace audit
  logistis-tui --url http://127.0.0.1:8080  a collector you can reach directly (make run)
  logistis-tui --user alice --since 2h      start with filters
  logistis-tui --all                        show machine identities too
  logistis-tui --web                        the same app in a browser, on 127.0.0.1:8000
"""
IN_DEPRECATED = "logistis-tui: --in is now -n/--namespace (as kubectl's); --in will go"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="logistis-tui",
        description="Browse, filter, diff and tail the cluster's recorded history.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    where = p.add_argument_group("connection")
    where.add_argument("--url", help="collector API URL; skips the port-forward")
    Via.add_flag(where)
    where.add_argument("--context", help="kubeconfig context to use")
    where.add_argument("--kubeconfig", help="path to the kubeconfig file")
    where.add_argument(
        "--collector-namespace",
        default=DEFAULT_NAMESPACE,
        metavar="NS",
        help=f"namespace the collector runs in (default {DEFAULT_NAMESPACE})",
    )
    start = p.add_argument_group("initial filters")
    scope = start.add_mutually_exclusive_group()
    scope.add_argument("-n", "--namespace", help="only this namespace, as kubectl's -n")
    scope.add_argument(
        "-A", "--all-namespaces", action="store_true", help="every namespace (the default)"
    )
    scope.add_argument("--in", dest="in_namespace", metavar="NS", help=argparse.SUPPRESS)
    start.add_argument("--user", help="only this user (glob with *)")
    start.add_argument("--kind", help="only this kind (Deployment, deployments)")
    start.add_argument("--operation", choices=("CREATE", "UPDATE", "DELETE", "CONNECT"),
                       type=str.upper)  # fmt: skip
    start.add_argument("--since", help="RFC 3339 time or a duration like 2h")
    start.add_argument("--all", action="store_true", help="include machine identities")
    web = p.add_argument_group("in a browser")
    web.add_argument("--web", action="store_true", help="serve the app to a browser instead")
    web.add_argument(
        "--web-listen",
        default=DEFAULT_LISTEN,
        metavar="HOST:PORT",
        help=f"where --web listens (default {DEFAULT_LISTEN}; loopback unless allowed)",
    )
    web.add_argument(
        "--allow-public-web",
        action="store_true",
        help="permit a non-loopback --web-listen (the app has no login of its own)",
    )
    add_version_flag(p, "logistis-tui")
    return p


def settings(args: argparse.Namespace) -> tuple[ConnectionSettings, EventFilter]:
    """Where the collector is, and what to show first."""
    if args.in_namespace is not None:
        print(IN_DEPRECATED, file=sys.stderr)
    connection = ConnectionSettings(
        args.url, args.context, args.kubeconfig, args.collector_namespace, via=Via(args.via)
    )
    initial = EventFilter(
        namespace=args.namespace or args.in_namespace,
        kind=args.kind,
        user=args.user,
        operation=args.operation,
        since=args.since,
        people=None if args.all else True,
    )
    return connection, initial


def main(argv: Sequence[str] | None = None) -> int:
    given = list(sys.argv[1:] if argv is None else argv)
    args = parser().parse_args(given)
    if args.web:
        return _serve(args, given)
    app = LogistisApp(*settings(args))
    app.run()
    return app.return_code or 0


def _serve(args: argparse.Namespace, given: list[str]) -> int:
    try:
        host, port = listen_address(args.web_listen, allow_public=args.allow_public_web)
        print(f"logistis-tui: serving the app on http://{args.web_listen}/", file=sys.stderr)
        serve(_without_web_flags(given), host, port)
    except WebError as error:
        print(f"logistis-tui: {error}", file=sys.stderr)
        return 2
    return 0


def _without_web_flags(given: list[str]) -> list[str]:
    """The flags each browser tab's app takes: all but those of --web."""
    kept: list[str] = []
    skip = False
    for arg in given:
        if skip:
            skip = False
        elif arg in ("--web", "--allow-public-web"):
            continue
        elif arg == "--web-listen":
            skip = True
        elif not arg.startswith("--web-listen="):
            kept.append(arg)
    return kept


if __name__ == "__main__":
    sys.exit(main())

"""`logistis-tui`: flags in, the app on the terminal, an exit code out."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from logistis.tui.app.app import ConnectionSettings, LogistisApp
from logistis.tui.core.connect import Via
from logistis.tui.core.events import EventFilter
from logistis.tui.core.portforward import DEFAULT_NAMESPACE
from logistis.version import add_version_flag

EPILOG = """\
examples:
  logistis-tui                              the cluster's Kubernetes API if it serves the
                                            history, else a port-forward to the collector
  logistis-tui --via port-forward           always the port-forward (namespace logistis)
  logistis-tui --context prod -n audit      another cluster, collector in namespace audit
  logistis-tui --url http://127.0.0.1:8080  a collector you can reach directly (make run)
  logistis-tui --user alice --since 2h      start with filters
  logistis-tui --all                        show machine identities too
"""


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
        "-n",
        "--namespace",
        default=DEFAULT_NAMESPACE,
        help=f"namespace the collector runs in (default {DEFAULT_NAMESPACE})",
    )
    start = p.add_argument_group("initial filters")
    start.add_argument("--user", help="only this user (glob with *)")
    start.add_argument("--kind", help="only this kind (Deployment, deployments)")
    start.add_argument("--in", dest="in_namespace", metavar="NS", help="only this namespace")
    start.add_argument("--operation", choices=("CREATE", "UPDATE", "DELETE", "CONNECT"),
                       type=str.upper)  # fmt: skip
    start.add_argument("--since", help="RFC 3339 time or a duration like 2h")
    start.add_argument("--all", action="store_true", help="include machine identities")
    add_version_flag(p, "logistis-tui")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    connection = ConnectionSettings(
        args.url, args.context, args.kubeconfig, args.namespace, via=Via(args.via)
    )
    initial = EventFilter(
        namespace=args.in_namespace,
        kind=args.kind,
        user=args.user,
        operation=args.operation,
        since=args.since,
        people=None if args.all else True,
    )
    app = LogistisApp(connection, initial)
    app.run()
    return app.return_code or 0


if __name__ == "__main__":
    sys.exit(main())

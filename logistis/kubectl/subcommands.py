"""The subcommands of `kubectl logistis`: how each is typed, described and exemplified."""

from __future__ import annotations

from logistis.kubectl.flags import EXIT_CODES, Syntax
from logistis.kubectl.options import Command, Dialect

NAME = "kubectl-logistis"
ONE = "[TYPE [NAME...] | TYPE/NAME...]"


def _syntax(command: Command, usage: str, description: str, examples: str) -> Syntax:
    return Syntax(
        prog=f"kubectl logistis {command}",
        usage=f"kubectl logistis {command} {usage} [flags]",
        description=description,
        examples=f"examples:\n{examples}\n{EXIT_CODES}",
        dialect=Dialect.KUBECTL,
        command=command,
        version_name=NAME,
    )


SUBCOMMANDS: dict[str, Syntax] = {
    "blame": _syntax(
        Command.BLAME,
        ONE,
        "Who changed what, when and how, down to the field; people first (--all-actors for "
        "controllers and service accounts too).",
        """\
  kubectl logistis blame                                  # the cluster, by namespace
  kubectl logistis blame deployment/nginx -n team-a       # who changed it, and how
  kubectl logistis blame deploy nginx -n team-a --fields  # each line with its last writer
  kubectl logistis blame deploy -A -l app=web -o wide     # with values and field managers
  kubectl logistis blame deploy nginx --at 2h             # as it was two hours ago
""",
    ),
    "log": _syntax(
        Command.LOG,
        ONE,
        "The change log of an object, a kind or a namespace, newest first: one line a change.",
        """\
  kubectl logistis log -n team-a --since 1h               # what changed in the last hour
  kubectl logistis log deployment.apps/nginx -n team-a    # one object's history
  kubectl logistis log deploy -A -w                       # and follow new changes
""",
    ),
    "diff": _syntax(
        Command.DIFF,
        "TYPE NAME | TYPE/NAME | --event ID",
        "The difference between two versions of an object (default: its latest change), as a "
        "YAML diff or (-o patch) an RFC 6902 patch. A version is an event id or a time.",
        """\
  kubectl logistis diff deploy/nginx -n team-a            # its latest change
  kubectl logistis diff deploy/nginx -n team-a --from 2h  # what changed since two hours ago
  kubectl logistis diff deploy/nginx --from 58 --to 83    # between two events
  kubectl logistis diff --event 70 -o patch               # one change, for kubectl patch
""",
    ),
    "who": _syntax(
        Command.WHO,
        "[TYPE]",
        "The people who changed things, most active first, with their last change and the "
        "kinds they touched.",
        """\
  kubectl logistis who -n team-a --since 7d               # a namespace's last week
  kubectl logistis who deployments -A                     # who touches deployments
""",
    ),
    "top": _syntax(
        Command.TOP,
        "[TYPE]",
        "The most active over a period: changes by kind of actor (people first), then the "
        "top people, namespaces, types and objects (the churn).",
        """\
  kubectl logistis top -A --since 24h                     # the cluster's last day
  kubectl logistis top deployments -n team-a --since 7d   # a namespace's deployments
  kubectl logistis top -A -o json                         # for a script
""",
    ),
}
ALIASES = {"people": "who"}

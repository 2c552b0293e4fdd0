"""What `kubectl blame` and `kubectl logistis`'s subcommands were asked for, once read from the
command line (`flags.parse`): the `Options`, and which of them go together.

The two plugins share the options; their `Dialect` decides what differs (how objects are
named, whose changes are shown by default).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from logistis.client.connect import Via
from logistis.kubectl.errors import BlameError, ExitCode
from logistis.kubectl.labels import Selector

DEFAULT_LIMIT = 20
OPERATIONS = ("CREATE", "UPDATE", "DELETE", "CONNECT")


class Output(StrEnum):
    TABLE = "table"
    WIDE = "wide"
    DIFF = "diff"
    PATCH = "patch"
    JSON = "json"
    YAML = "yaml"
    NAME = "name"


class Dialect(StrEnum):
    """Which plugin is speaking."""

    ORIGINAL = "original"
    """`kubectl-blame`: the original plugin's keys (`team-a/Deployment/nginx`), every actor."""
    KUBECTL = "kubectl"
    """`kubectl logistis`: kubectl's names (`deployment.apps/nginx`), people first, a pager."""


class Command(StrEnum):
    """What `kubectl logistis` was asked for; `kubectl-blame` always blames."""

    BLAME = "blame"
    LOG = "log"
    DIFF = "diff"
    WHO = "who"
    TOP = "top"


@dataclass(frozen=True, slots=True)
class Options:
    type: str | None
    names: tuple[str, ...]
    namespace: str | None
    all_namespaces: bool
    context: str | None
    kubeconfig: str | None
    url: str | None
    collector_namespace: str
    via: Via
    user: str | None
    operation: str | None
    since: str | None
    until: str | None
    limit: int
    people: bool
    output: Output
    fields: bool
    at: str | None
    event: int | None
    diff_from: str | None
    diff_to: str | None
    show_noise: bool
    no_color: bool
    context_lines: int
    selector: Selector | None = None
    watch: bool = False
    no_headers: bool = False
    no_pager: bool = False
    all_actors: bool = False
    dialect: Dialect = Dialect.ORIGINAL
    command: Command = Command.BLAME
    hand_edits: bool = False
    actor: str | None = None
    tool: str | None = None
    managed_by: str | None = None

    @property
    def filtered(self) -> bool:
        chosen = (self.user, self.operation, self.since, self.until, self.people, self.selector)
        return any((*chosen, self.hand_edits, self.actor, self.tool, self.managed_by))

    @property
    def people_only(self) -> bool:
        """Machines left out: asked with --people, or by default in kubectl logistis; --actor
        and --tool choose whose changes are shown themselves (Argo CD is a service account)."""
        if self.actor or self.tool:
            return self.people
        if self.dialect is Dialect.KUBECTL:
            return not self.all_actors
        return self.people

    @property
    def time_travel(self) -> bool:
        return self.at is not None or self.diff_from is not None or self.diff_to is not None


def check(o: Options) -> None:
    """Refuse options that do not go together, in a line that says why."""
    if o.all_namespaces and o.namespace:
        raise BlameError("--namespace and --all-namespaces exclude each other", ExitCode.USAGE)
    travels = [
        o.at is not None,
        o.event is not None,
        o.diff_from is not None or o.diff_to is not None,
    ]
    if sum(travels) > 1:
        raise BlameError("choose one of --at, --event and --diff-from/--diff-to", ExitCode.USAGE)
    # `--event ID` names its object itself; the others need it on the command line.
    if (o.time_travel or (o.fields and o.event is None)) and (o.type is None or len(o.names) != 1):
        raise BlameError(
            "--fields, --at and --diff-from/--diff-to need one object: TYPE NAME", ExitCode.USAGE
        )
    if (o.fields or any(travels)) and o.all_namespaces:
        raise BlameError(
            "--fields, --event and time travel look at one object: -n, not -A", ExitCode.USAGE
        )
    if o.event is not None and o.type is not None and len(o.names) != 1:
        raise BlameError("--event takes one object, TYPE NAME, or none at all", ExitCode.USAGE)
    if (o.fields or any(travels)) and o.filtered:
        raise BlameError(
            "filters select events to list; --fields, --event and time travel use the whole history",
            ExitCode.USAGE,
        )
    if o.fields and o.output in (Output.DIFF, Output.WIDE, Output.PATCH, Output.NAME):
        raise BlameError(f"--fields cannot be shown as -o {o.output}", ExitCode.USAGE)
    if o.watch and (o.fields or any(travels)):
        raise BlameError("--watch follows a list of changes, not one version", ExitCode.USAGE)
    _check_command(o, looks_at_one=o.fields or any(travels))


def _check_command(o: Options, *, looks_at_one: bool) -> None:
    """What each subcommand of `kubectl logistis` takes beyond the shared flags."""
    if o.command in (Command.LOG, Command.WHO, Command.TOP) and looks_at_one:
        raise BlameError(
            f"{o.command} lists changes: --fields and time travel are for blame and diff",
            ExitCode.USAGE,
        )
    if o.command in (Command.WHO, Command.TOP) and (o.names or o.watch):
        raise BlameError(f"{o.command} counts changes: no NAME, no --watch", ExitCode.USAGE)
    if o.command is not Command.DIFF:
        return
    if o.event is None and (o.type is None or len(o.names) != 1):
        raise BlameError("diff needs one object: TYPE NAME, or --event ID", ExitCode.USAGE)
    if o.filtered:
        raise BlameError("diff compares versions of the whole history: no filters", ExitCode.USAGE)
    if o.at is not None or o.fields or o.watch:
        raise BlameError(
            "diff takes --from, --to or --event, not --at, --fields or -w", ExitCode.USAGE
        )
    if o.output not in (Output.DIFF, Output.PATCH, Output.JSON, Output.YAML):
        raise BlameError(f"diff shows -o diff, patch, json or yaml, not {o.output}", ExitCode.USAGE)

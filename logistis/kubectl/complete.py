"""Shell completion for `kubectl logistis`, through kubectl's plugin completion (kubectl 1.26+):
kubectl runs `kubectl_complete-logistis ARGS... PARTIAL` and reads Cobra's answer, one
candidate a line, then `:DIRECTIVE`.

Subcommands, flags and output formats are known here; resource types, object names,
namespaces and users come from the recorded history, so only what has a history is offered.
Whatever goes wrong (no collector, a bad flag so far), the answer is just no candidates.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Mapping, Sequence

from logistis.client.connect import Via, connect
from logistis.client.events import EventFilter
from logistis.client.portforward import DEFAULT_NAMESPACE as COLLECTOR_NAMESPACE
from logistis.client.portforward import PortForwardError
from logistis.client.protocol import CollectorError, HistoryClient
from logistis.kubectl.errors import BlameError, ExitCode
from logistis.kubectl.flags import Syntax, build_parser
from logistis.kubectl.kubeconfig import default_namespace
from logistis.kubectl.options import OPERATIONS, Output
from logistis.kubectl.resolve import BUILTIN_TYPES, ResourceType, find, recorded_types
from logistis.kubectl.subcommands import ALIASES, SUBCOMMANDS

# Cobra's ShellCompDirectiveNoFileComp: never offer file names instead.
NO_FILES = ":4"
# A completion that waits longer than this is worse than none.
TIMEOUT = 10.0
NAMES_SCANNED = 1000
OUTPUT_FLAGS = ("-o", "--output", "-f", "--format")


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] = os.environ) -> int:
    """`kubectl_complete-logistis`, the script kubectl looks for on PATH."""
    return complete(sys.argv[1:] if argv is None else argv, environ)


def complete(words: Sequence[str], environ: Mapping[str, str]) -> int:
    *typed, partial = list(words) or [""]
    try:
        found = asyncio.run(asyncio.wait_for(_candidates(typed, partial, environ), TIMEOUT))
    except (BlameError, CollectorError, PortForwardError, TimeoutError, OSError):
        found = []
    for candidate in dict.fromkeys(found):
        if candidate.startswith(partial):
            sys.stdout.write(candidate + "\n")
    sys.stdout.write(NO_FILES + "\n")
    return ExitCode.OK


async def _candidates(typed: list[str], partial: str, environ: Mapping[str, str]) -> list[str]:
    if not typed:
        return [*SUBCOMMANDS, *ALIASES]
    syntax = SUBCOMMANDS.get(ALIASES.get(typed[0], typed[0]))
    if syntax is None:
        return []
    parser = build_parser(syntax)
    previous = typed[-1] if len(typed) > 1 else ""
    if previous in OUTPUT_FLAGS:
        return [o.value for o in Output]
    if previous == "--operation":
        return [op.lower() for op in OPERATIONS]
    if partial.startswith("-"):
        # argparse lists its flags nowhere public; `_actions` is what its own help reads.
        return [flag for action in parser._actions for flag in action.option_strings]
    ns = _parsed(parser, typed[1:])
    async with connect(
        ns.url or environ.get("LOGISTIS_URL"),
        context=ns.context,
        kubeconfig=ns.kubeconfig,
        namespace=ns.collector_namespace
        or environ.get("LOGISTIS_NAMESPACE")
        or COLLECTOR_NAMESPACE,
        via=Via(ns.via),
    ) as client:
        return await _from_history(client, syntax, ns, previous, partial, environ)


def _parsed(parser: argparse.ArgumentParser, words: list[str]) -> argparse.Namespace:
    """What was typed so far; a flag still waiting for its value is left out."""
    for upto in (len(words), len(words) - 1):
        try:
            return parser.parse_known_args(words[: max(upto, 0)])[0]
        except BlameError:
            continue
    return parser.parse_known_args([])[0]


async def _from_history(
    client: HistoryClient,
    syntax: Syntax,
    ns: argparse.Namespace,
    previous: str,
    partial: str,
    environ: Mapping[str, str],
) -> list[str]:
    facets = await client.facets(EventFilter())
    if previous in ("-n", "--namespace"):
        return sorted(n.value for n in facets.namespaces if n.value)
    if previous == "--user":
        return sorted(u.value for u in facets.users)
    types = [*recorded_types(facets.kinds)]
    if not ns.args and "/" not in partial:
        return _type_names(types)
    type_text = ns.args[0] if ns.args else partial.split("/", 1)[0]
    rtype = find(type_text, [*BUILTIN_TYPES, *types])
    if rtype is None:
        return []
    namespace = _namespace(ns, rtype, environ)
    names = await _object_names(client, rtype, namespace)
    return [f"{type_text}/{n}" for n in names] if not ns.args else names


def _type_names(types: list[ResourceType]) -> list[str]:
    """`deployments`; `events.events.k8s.io` where two groups share a plural."""
    plural_groups: dict[str, int] = {}
    for t in types:
        plural_groups[t.resource] = plural_groups.get(t.resource, 0) + 1
    return sorted(t.resource if plural_groups[t.resource] == 1 else t.qualified for t in types)


def _namespace(
    ns: argparse.Namespace, rtype: ResourceType, environ: Mapping[str, str]
) -> str | None:
    if rtype.namespaced is False:
        return ""
    if ns.all_namespaces:
        return None
    return ns.namespace or default_namespace(ns.kubeconfig, ns.context, environ)


async def _object_names(
    client: HistoryClient, rtype: ResourceType, namespace: str | None
) -> list[str]:
    filter = EventFilter(namespace=namespace, kind=rtype.resource, group=rtype.group)
    page = await client.events(filter, limit=NAMES_SCANNED)
    return sorted({e.name for e in page.items if e.name})

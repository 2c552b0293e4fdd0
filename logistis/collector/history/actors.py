"""Who acted: a person, a GitOps tool, one of Kubernetes' own controllers, or another service
account; and the tool behind the write where one is known.

A pure function of the request's user and field manager, no I/O: the deriver and the readers
call it alike. The built-in knowledge is a list of rules like those of the config file's
`gitops.actors`; the file's rules come first, so they override it and extend it.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any, TypedDict

from logistis.collector.errors import UsageError

KINDS = ("person", "gitops", "controller", "serviceaccount")
TOOLS = ("argocd", "flux", "helm", "kubectl")
SERVICE_ACCOUNT_PREFIX = "system:serviceaccount:"
# Every Kubernetes component, node and service account authenticates as `system:*`.
SYSTEM_PREFIX = "system:"


class ConfigError(UsageError, ValueError):
    """The config file's `gitops` section is wrong; the message says where."""


class ActorJSON(TypedDict):
    kind: str
    tool: str | None


@dataclass(frozen=True, slots=True)
class Actor:
    kind: str
    tool: str | None = None
    kubernetes: bool = False
    """One of Kubernetes' own controllers or nodes: its writes are never hand edits."""

    def to_json(self) -> ActorJSON:
        return {"kind": self.kind, "tool": self.tool}


@dataclass(frozen=True, slots=True)
class ActorRule:
    """Requests whose user, groups and field manager match every selector given (each a list
    of alternatives, globs with `*`, `?`, `[...]`) are made by `kind` and `tool`. A rule without
    a kind names only the tool; one without a tool leaves it to the rules after it."""

    kind: str | None = None
    tool: str | None = None
    users: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    field_managers: tuple[str, ...] = ()
    kubernetes: bool = False

    def matches(self, username: str, groups: Sequence[str], field_manager: str) -> bool:
        return (
            _any(self.users, (username,))
            and _any(self.groups, groups)
            and _any(self.field_managers, (field_manager,))
        )


# What Argo CD, Flux, Helm, kubectl and Kubernetes itself look like in a request. The tools'
# field managers count as well as their service accounts: a tool that impersonates a tenant's
# account (Flux's `spec.serviceAccountName`) still writes with its own field manager.
BUILT_IN = (
    ActorRule("gitops", "argocd", users=("system:serviceaccount:*:argocd-application-controller",)),
    ActorRule("gitops", "argocd", field_managers=("argocd-controller",)),
    ActorRule(
        "gitops",
        "flux",
        users=(
            "system:serviceaccount:flux-system:kustomize-controller",
            "system:serviceaccount:flux-system:helm-controller",
        ),
    ),
    ActorRule("gitops", "flux", field_managers=("kustomize-controller", "helm-controller")),
    ActorRule(
        "controller",
        users=(
            "system:kube-controller-manager",
            "system:kube-scheduler",
            "system:apiserver",
            "system:serviceaccount:kube-system:*",
            "system:node:*",
        ),
        kubernetes=True,
    ),
    ActorRule(tool="helm", field_managers=("helm",)),
    ActorRule(tool="kubectl", field_managers=("kubectl", "kubectl-*")),
)


def classify(
    username: str,
    groups: Sequence[str],
    field_manager: str,
    rules: Sequence[ActorRule] = (),
) -> Actor:
    """The actor of one request: the first matching rule with a kind decides the kind, the
    first with a tool the tool (`rules`, then the built-in ones); without a matching kind, the
    user's own name does."""
    return _classified(username, tuple(groups), field_manager, tuple(rules))


# A cluster's writers are a few hundred users and field managers at most, each matched against
# every rule's globs (~20 µs); the deriver classifies every event of every pass.
@functools.lru_cache(maxsize=4096)
def _classified(
    username: str, groups: tuple[str, ...], field_manager: str, rules: tuple[ActorRule, ...]
) -> Actor:
    kind: str | None = None
    kubernetes = False
    tool: str | None = None
    for rule in (*rules, *BUILT_IN):
        if (kind is None or tool is None) and rule.matches(username, groups, field_manager):
            if kind is None and rule.kind is not None:
                kind, kubernetes = rule.kind, rule.kubernetes
            tool = tool or rule.tool
    if kind is not None:
        return Actor(kind, tool, kubernetes)
    if username.startswith(SERVICE_ACCOUNT_PREFIX):
        return Actor("serviceaccount", tool)
    if username.startswith(SYSTEM_PREFIX):
        # Another of Kubernetes' own components (system:kube-proxy, system:volume-scheduler).
        return Actor("controller", tool, kubernetes=True)
    return Actor("person", tool)


def parse_rules(entries: Any) -> tuple[ActorRule, ...]:
    """The config file's `gitops.actors` list."""
    if entries is None:
        return ()
    if not isinstance(entries, list):
        raise ConfigError("gitops.actors must be a list of rules")
    return tuple(_rule(number, entry) for number, entry in enumerate(entries, start=1))


def _rule(number: int, entry: Any) -> ActorRule:
    where = f"gitops.actors[{number}]"
    if not isinstance(entry, Mapping):
        raise ConfigError(f"{where}: must be a mapping")
    unknown = set(entry) - {"users", "groups", "fieldManagers", "kind", "tool"}
    if unknown:
        raise ConfigError(f"{where}: unknown keys {sorted(unknown)}")
    kind, tool = entry.get("kind"), entry.get("tool")
    if kind is not None and kind not in KINDS:
        raise ConfigError(f"{where}: kind must be one of {', '.join(KINDS)}")
    if tool is not None and tool not in TOOLS:
        raise ConfigError(f"{where}: tool must be one of {', '.join(TOOLS)}")
    if kind is None and tool is None:
        raise ConfigError(f"{where}: needs a kind, a tool or both")
    selectors = {key: _patterns(where, key, entry.get(key)) for key in ("users", "groups")}
    managers = _patterns(where, "fieldManagers", entry.get("fieldManagers"))
    if not (selectors["users"] or selectors["groups"] or managers):
        raise ConfigError(f"{where}: needs users, groups or fieldManagers")
    return ActorRule(kind, tool, selectors["users"], selectors["groups"], managers)


def _patterns(where: str, key: str, value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ConfigError(f"{where}.{key}: must be a list of names or globs")
    return tuple(value)


def _any(patterns: tuple[str, ...], values: Sequence[str]) -> bool:
    """No patterns: any value; else one of the values matches one of them."""
    return not patterns or any(fnmatchcase(v, p) for p in patterns for v in values)

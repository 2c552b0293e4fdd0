"""Capture rules: which admission requests are recorded.

The `capture:` section of the config file (docs/capture-rules.md has the full reference)::

    capture:
      dryRun: false          # record server-side dry runs too (default: no)
      include: [<rule>, ...] # if any, a request must match at least one
      exclude: [<rule>, ...] # a request matching any of these is not recorded

A rule has an optional `name` and one or more selectors: `users`, `groups`, `extra`,
`namespaces`, `kinds`, `operations`, `subresources` (lists of alternatives, each a glob or a
`re:` regex) and `cel` (a CEL expression over `request`, `object`, `oldObject`). All the
selectors of a rule must match. Everything is compiled when the rules are built, so a bad
rule fails at startup and `decide` (on the webhook's hot path) only runs precompiled checks.
"""

from __future__ import annotations

import fnmatch
import logging
import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from logistis.collector.errors import CollectorError, UsageError
from logistis.collector.history.events import OPERATIONS

if TYPE_CHECKING:
    from logistis.collector.admission.cel import Activation, CelCondition

log = logging.getLogger(__name__)

REGEX_PREFIX = "re:"
SELECTORS = ("users", "groups", "extra", "namespaces", "kinds", "operations", "subresources")
RULE_KEYS = frozenset({"name", "cel", *SELECTORS})
CAPTURE_KEYS = frozenset({"dryRun", "include", "exclude"})
# Selectors that can be given on the command line (`--include-user`, `--exclude-kind`, ...).
FLAG_SELECTORS = frozenset({"users", "groups", "namespaces", "kinds", "operations", "subresources"})


class RuleError(UsageError, ValueError):
    """A capture rule that cannot be used; the message names the rule and what is wrong."""


class _Invalid(CollectorError):
    """What is wrong with one selector; turned into a RuleError that names the rule."""


@dataclass(frozen=True)
class Decision:
    """Whether to record a request, and which rule decided (for logs and metrics).

    `rule` is the name of the exclude rule that dropped the request, of the include rule that
    let it in, "dryRun" for a dry run that is not recorded, "include" when include rules exist
    and none matched, and None when the request is recorded by default.
    """

    record: bool
    rule: str | None


DRY_RUN = "dryRun"
NO_INCLUDE_MATCHED = "include"
_RECORDED_BY_DEFAULT = Decision(record=True, rule=None)
_DRY_RUN_DROPPED = Decision(record=False, rule=DRY_RUN)
_NOT_INCLUDED = Decision(record=False, rule=NO_INCLUDE_MATCHED)

Check = Callable[[Mapping[str, Any]], bool]


@dataclass(frozen=True)
class _Patterns:
    """The alternatives of one selector: exact values, and globs or regexes."""

    exact: frozenset[str]
    patterns: tuple[re.Pattern[str], ...]

    def match(self, value: str) -> bool:
        return value in self.exact or any(p.search(value) for p in self.patterns)

    def match_any(self, values: Sequence[str]) -> bool:
        return any(self.match(value) for value in values)


def _compile_patterns(values: Sequence[str]) -> _Patterns:
    """Globs (`system:serviceaccount:*`) match the whole value; `re:` regexes search in it."""
    exact: set[str] = set()
    patterns: list[re.Pattern[str]] = []
    for value in values:
        if value.startswith(REGEX_PREFIX):
            patterns.append(_compile_regex(value[len(REGEX_PREFIX) :]))
        elif _is_glob(value):
            patterns.append(re.compile(r"\A" + fnmatch.translate(value)))
        else:
            exact.add(value)
    return _Patterns(frozenset(exact), tuple(patterns))


def _is_glob(value: str) -> bool:
    return any(c in value for c in "*?[")


def _compile_regex(source: str) -> re.Pattern[str]:
    try:
        return re.compile(source)
    except re.error as e:
        raise _Invalid(f"bad regex {source!r}: {e}") from None


def _user(request: Mapping[str, Any]) -> Mapping[str, Any]:
    return request.get("userInfo") or {}


def _users_check(patterns: _Patterns) -> Check:
    return lambda request: patterns.match(_user(request).get("username") or "")


def _groups_check(patterns: _Patterns) -> Check:
    return lambda request: patterns.match_any(_user(request).get("groups") or ())


def _namespaces_check(patterns: _Patterns) -> Check:
    return lambda request: patterns.match(request.get("namespace") or "")


def _subresources_check(patterns: _Patterns) -> Check:
    return lambda request: patterns.match(request.get("subResource") or "")


def _extra_check(wanted: Mapping[str, _Patterns]) -> Check:
    def check(request: Mapping[str, Any]) -> bool:
        extra = _user(request).get("extra") or {}
        return all(patterns.match_any(extra.get(key) or ()) for key, patterns in wanted.items())

    return check


def _operations_check(operations: frozenset[str]) -> Check:
    return lambda request: request.get("operation") in operations


def _plural(kind: str) -> str:
    """A kind's resource name by convention: `NetworkPolicy` -> `networkpolicies`."""
    name = kind.lower()
    if name.endswith("endpoints"):
        return name
    if name.endswith(("s", "x", "z", "ch", "sh")):
        return name + "es"
    if name.endswith("y") and name[-2:-1] not in ("a", "e", "i", "o", "u"):
        return name[:-1] + "ies"
    return name + "s"


def _qualified(group: str, name: str) -> str:
    return f"{group or 'core'}/{name}"


class _KindSelector:
    """Matches `Kind`, `group/Kind` (`core/` for the core group) or a plural resource name.

    A request is matched on its `kind` and on its `resource`, so a request through a
    subresource counts as the resource it changes: a Scale sent to `deployments/scale`
    matches `apps/Deployment` (through `apps/deployments`) as well as `autoscaling/Scale`.
    """

    def __init__(self, values: Sequence[str]) -> None:
        names: set[str] = set()
        qualified: set[str] = set()
        patterns: list[str] = []
        for value in values:
            group, _, name = value.rpartition("/")
            if value.startswith(REGEX_PREFIX) or _is_glob(value):
                patterns.append(
                    value if "/" in value or value.startswith(REGEX_PREFIX) else f"*/{value}"
                )
                continue
            if not name:
                raise _Invalid(f"{value!r} names no kind")
            spellings = {name, _plural(name)} if name[:1].isupper() else {name}
            if "/" in value:
                qualified.update(_qualified(group, spelling) for spelling in spellings)
            else:
                names.update(spellings)
        self._names = frozenset(names)
        self._qualified = frozenset(qualified)
        self._patterns = _compile_patterns(patterns)

    def __call__(self, request: Mapping[str, Any]) -> bool:
        kind = request.get("kind") or {}
        resource = request.get("resource") or {}
        kind_name = kind.get("kind") or ""
        resource_name = resource.get("resource") or ""
        if kind_name in self._names or resource_name in self._names:
            return True
        candidates = (
            _qualified(kind.get("group") or "", kind_name),
            _qualified(resource.get("group") or "", resource_name),
        )
        return any(c in self._qualified or self._patterns.match(c) for c in candidates)


@dataclass(frozen=True)
class _Rule:
    name: str
    checks: tuple[Check, ...]
    condition: CelCondition | None


class CaptureRules:
    """Decides for each admission request whether it is recorded. Not thread-safe: call it
    from the event loop (it is synchronous and takes microseconds without CEL)."""

    def __init__(
        self,
        include: Sequence[_Rule],
        exclude: Sequence[_Rule],
        record_dry_run: bool,
        *,
        selected: tuple[Mapping[str, Any], str, str] | None = None,
    ):
        self.include = tuple(include)
        self.exclude = tuple(exclude)
        self.record_dry_run = record_dry_run
        # Failed CEL evaluations per rule name; each counted as "no match".
        self.evaluation_errors: Counter[str] = Counter()
        conditions = [r.condition for r in (*self.include, *self.exclude) if r.condition]
        self._activation = _activations(conditions)
        # What `selecting` compiled these from: a notification rule's selectors travel in the
        # settings to the collector's other processes, and are compiled again there.
        self._selected = selected

    def __reduce__(self) -> tuple[Any, ...]:
        if self._selected is None:
            # The capture rules are built from the settings in each process (`build_rules`).
            raise TypeError("capture rules are built in each process, not pickled")
        return (selecting, self._selected)

    @property
    def reads_whole_request(self) -> bool:
        """A rule's CEL expression may read any part of the request, objects included: each
        review is then decoded whole before it is decided."""
        return self._activation is not None

    def decide(self, request: Mapping[str, Any]) -> Decision:
        if request.get("dryRun") and not self.record_dry_run:
            return _DRY_RUN_DROPPED
        activation = self._activation(request) if self._activation else None
        for rule in self.exclude:
            if self._matches(rule, request, activation):
                return Decision(record=False, rule=rule.name)
        if not self.include:
            return _RECORDED_BY_DEFAULT
        for rule in self.include:
            if self._matches(rule, request, activation):
                return Decision(record=True, rule=rule.name)
        return _NOT_INCLUDED

    def _matches(
        self, rule: _Rule, request: Mapping[str, Any], activation: Activation | None
    ) -> bool:
        if not all(check(request) for check in rule.checks):
            return False
        condition = rule.condition
        if condition is None:
            return True
        assert activation is not None, "made for every request when a rule has a condition"
        try:
            return condition.evaluate(activation)
        except ValueError as e:
            self._count_error(rule, str(e))
            return False

    def _count_error(self, rule: _Rule, reason: str) -> None:
        if not self.evaluation_errors[rule.name]:
            log.warning(
                "capture rule %r: CEL evaluation failed, counted as no match: %s", rule.name, reason
            )
        self.evaluation_errors[rule.name] += 1


def build_rules(
    config: Mapping[str, Any] | None,
    *,
    record_dry_run: bool | None = None,
    include: Mapping[str, Sequence[str]] | None = None,
    exclude: Mapping[str, Sequence[str]] | None = None,
) -> CaptureRules:
    """Compile the `capture:` config section, extended by command-line flags.

    All `--include-*` flags together form one more include rule, `cli-include`; each kind of
    `--exclude-*` flag is its own exclude rule (`cli-exclude-users`, `cli-exclude-kinds`, ...).
    `record_dry_run`, when given, overrides the file's `dryRun`.
    """
    config = _capture_section(config)
    include_rules = _rule_list(config.get("include"), "include")
    exclude_rules = _rule_list(config.get("exclude"), "exclude")
    include = _given(include)
    if include:
        include_rules.append(_flag_rule("cli-include", include))
    for selector, values in _given(exclude).items():
        exclude_rules.append(_flag_rule(f"cli-exclude-{selector}", {selector: values}))
    _check_unique_names([*include_rules, *exclude_rules])
    file_dry_run = config.get("dryRun", False)
    if not isinstance(file_dry_run, bool):
        raise RuleError(f"capture: dryRun must be true or false, not {file_dry_run!r}")
    return CaptureRules(
        include_rules, exclude_rules, file_dry_run if record_dry_run is None else record_dry_run
    )


def _given(flags: Mapping[str, Sequence[str]] | None) -> dict[str, Sequence[str]]:
    """The flags that were given: a repeatable flag never used arrives as an empty list."""
    return {selector: values for selector, values in (flags or {}).items() if values}


def _capture_section(config: Mapping[str, Any] | None) -> Mapping[str, Any]:
    if config is None:
        return {}
    if not isinstance(config, Mapping):
        raise RuleError(f"capture: must be a mapping, not {_type_name(config)}")
    _reject_unknown_keys("capture", config, CAPTURE_KEYS)
    return config


def _reject_unknown_keys(label: str, spec: Mapping[str, Any], known: frozenset[str]) -> None:
    unknown = sorted(str(key) for key in spec if key not in known)
    if unknown:
        raise RuleError(
            f"{label}: unknown key {', '.join(map(repr, unknown))} "
            f"(known: {', '.join(sorted(known))})"
        )


def _rule_list(specs: Any, section: str) -> list[_Rule]:
    if specs is None:
        return []
    if not isinstance(specs, list):
        raise RuleError(f"capture: {section} must be a list of rules, not {_type_name(specs)}")
    return [_rule(spec, f"{section}[{index}]") for index, spec in enumerate(specs)]


def _flag_rule(name: str, selectors: Mapping[str, Sequence[str]]) -> _Rule:
    unknown = set(selectors).difference(FLAG_SELECTORS)
    if unknown:
        raise RuleError(f"capture rule {name!r}: no such flag selector {sorted(unknown)}")
    return _rule({"name": name, **{key: list(values) for key, values in selectors.items()}}, name)


def selecting(spec: Mapping[str, Any], position: str, what: str) -> CaptureRules:
    """One rule of another section that selects with the capture rules' selectors (a
    notification rule): it records what the rule matches, dry runs included. Errors name it
    as `what` (`notify rule`)."""
    rule = _rule(spec, position, what)
    return CaptureRules([rule], [], record_dry_run=True, selected=(dict(spec), position, what))


def _rule(spec: Any, position: str, what: str = "capture rule") -> _Rule:
    if not isinstance(spec, Mapping):
        raise RuleError(f"{what} {position}: must be a mapping, not {_type_name(spec)}")
    name = spec.get("name", position)
    if not isinstance(name, str) or not name:
        raise RuleError(f"{what} {position}: name must be a non-empty string")
    label = f"{what} {name!r}" if "name" in spec else f"{what} {position}"
    _reject_unknown_keys(label, spec, RULE_KEYS)
    if not set(spec).difference({"name"}):
        raise RuleError(f"{label}: no selector; give at least one of {', '.join(SELECTORS)}, cel")
    checks: list[Check] = []
    condition = None
    for key, value in spec.items():
        try:
            if key == "cel":
                condition = _cel_condition(_string(value))
            elif key != "name":
                checks.append(_SELECTOR_BUILDERS[key](value))
        except (_Invalid, ValueError) as e:
            raise RuleError(f"{label}: {key}: {e}") from None
    return _Rule(name=name, checks=tuple(checks), condition=condition)


def _cel_condition(source: str) -> CelCondition:
    # Imported on first use: the cel package costs a quarter of a second at every start.
    from logistis.collector.admission.cel import CelCondition

    return CelCondition(source)


def _activations(
    conditions: Sequence[CelCondition],
) -> Callable[[Mapping[str, Any]], Activation] | None:
    if not conditions:
        return None
    from logistis.collector.admission.cel import activations

    return activations(conditions)


def _string(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _Invalid(f"must be a non-empty string, not {value!r}")
    return value


def _strings(value: Any) -> list[str]:
    """A selector's alternatives: a list of strings, or one string."""
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not values:
        raise _Invalid(f"must be a non-empty list of strings, not {value!r}")
    for item in values:
        if not isinstance(item, str):
            raise _Invalid(f"must contain strings only, not {item!r}")
    return values


def _patterns(value: Any) -> _Patterns:
    return _compile_patterns(_strings(value))


def _extra(value: Any) -> Check:
    if not isinstance(value, Mapping) or not value:
        raise _Invalid(f"must map extra keys to values, not {value!r}")
    return _extra_check({str(key): _patterns(values) for key, values in value.items()})


def _operations(value: Any) -> Check:
    operations = frozenset(op.upper() for op in _strings(value))
    unknown = operations.difference(OPERATIONS)
    if unknown:
        known = ", ".join(sorted(OPERATIONS))
        raise _Invalid(f"unknown operation {', '.join(sorted(unknown))} (known: {known})")
    return _operations_check(operations)


_SELECTOR_BUILDERS: Mapping[str, Callable[[Any], Check]] = {
    "users": lambda value: _users_check(_patterns(value)),
    "groups": lambda value: _groups_check(_patterns(value)),
    "extra": _extra,
    "namespaces": lambda value: _namespaces_check(_patterns(value)),
    "kinds": lambda value: _KindSelector(_strings(value)),
    "operations": _operations,
    "subresources": lambda value: _subresources_check(_patterns(value)),
}


def _check_unique_names(rules: Sequence[_Rule]) -> None:
    seen: set[str] = set()
    for rule in rules:
        if rule.name in seen:
            raise RuleError(f"capture rule {rule.name!r}: the name is used by another rule")
        seen.add(rule.name)


def _type_name(value: Any) -> str:
    return "null" if value is None else type(value).__name__

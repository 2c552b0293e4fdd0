"""The `cel` selector of a capture rule: a CEL expression over the admission request.

Kept apart from the other selectors because the `cel` package loads its interactive shell
(typer, prompt_toolkit, pygments) when imported: the rules import this module only when a
rule has a `cel` selector, so a collector without one starts without it.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import cel
from cel import stdlib

from logistis.collector.errors import CollectorError

VARIABLES = ("request", "object", "oldObject")

# Errors the CEL runtime raises for an expression that does not fit a request (missing key,
# wrong type, bad index, overflow, unknown function); they mean "this rule does not match".
_CEL_ERRORS = (ArithmeticError, LookupError, RuntimeError, TypeError, ValueError)
# Identifiers cel.Program.variables() reports that are not free variables: type names.
_CEL_TYPE_NAMES = frozenset(
    {"bool", "bytes", "double", "int", "list", "map", "null_type", "string", "type", "uint"}
)
# Macros bind their first argument (`x` in `list.all(x, ...)`); those names are not variables.
_CEL_MACRO_BINDING = re.compile(r"\.\s*(?:all|exists|exists_one|map|filter)\s*\(\s*(\w+)\s*,")


class InvalidCondition(CollectorError, ValueError):
    """An expression that cannot be a condition; the message says why."""


class NotEvaluated(CollectorError, ValueError):
    """An expression that does not fit this request; the message says why."""


@functools.cache
def _stdlib_functions() -> Mapping[str, Callable[..., Any]]:
    """Functions beyond the CEL core (strings, lists, math, sets), as in Kubernetes' CEL."""
    context = cel.Context()
    stdlib.add_stdlib_to_context(context)
    return context.functions


class CelCondition:
    """A compiled CEL expression, evaluated with the variables of Kubernetes matchConditions."""

    def __init__(self, source: str) -> None:
        try:
            self.program = cel.compile(source)
        except ValueError as e:
            raise InvalidCondition(f"does not compile: {_parse_error(e)}") from None
        self.variables = _free_variables(source, self.program)
        unknown = self.variables.difference(VARIABLES)
        if unknown:
            raise InvalidCondition(
                f"unknown variable {', '.join(sorted(unknown))} "
                f"(the variables are {', '.join(VARIABLES)})"
            )
        self.uses_managed_fields = "managedFields" in source
        functions = _stdlib_functions()
        self.functions = {
            name: functions[name] for name in self.program.functions() if name in functions
        }

    def evaluate(self, activation: Activation) -> bool:
        """Whether the request matches; NotEvaluated when the expression does not fit it."""
        try:
            result = self.program.execute(activation.context(self.variables))
        except _CEL_ERRORS as e:
            raise NotEvaluated(first_line(str(e))) from None
        if not isinstance(result, bool):
            raise NotEvaluated(f"result is {type(result).__name__}, not bool")
        return result


def activations(conditions: Iterable[CelCondition]) -> Callable[[Mapping[str, Any]], Activation]:
    """Makes the activation of one request for these conditions."""
    conditions = list(conditions)
    functions = {name: f for c in conditions for name, f in c.functions.items()}
    managed_fields = any(c.uses_managed_fields for c in conditions)
    return functools.partial(Activation, functions=functions, managed_fields=managed_fields)


def first_line(text: str) -> str:
    return (text.strip().splitlines() or [""])[0]


def _parse_error(error: ValueError) -> str:
    """The parser's own line (`ERROR: <input>:1:7: Syntax error: ...`), without the echo of a
    possibly multi-line expression that precedes it."""
    text = str(error)
    return first_line(text[max(text.find("ERROR: "), 0) :])


def _free_variables(source: str, program: cel.Program) -> frozenset[str]:
    bound = set(_CEL_MACRO_BINDING.findall(source))
    return frozenset(program.variables()).difference(bound, _CEL_TYPE_NAMES)


def _cel_request(request: Mapping[str, Any]) -> dict[str, Any]:
    """The `request` variable: the AdmissionRequest without its objects, as Kubernetes gives it
    to matchConditions, with optional strings defaulted so `request.subResource == ''` works."""
    view = {key: value for key, value in request.items() if key not in ("object", "oldObject")}
    for key in ("name", "namespace", "subResource"):
        view.setdefault(key, "")
    user = request.get("userInfo") or {}
    view["userInfo"] = {"username": "", "uid": "", "groups": [], "extra": {}, **user}
    return view


def _without_managed_fields(obj: Any) -> Any:
    metadata = obj.get("metadata") if isinstance(obj, Mapping) else None
    if not isinstance(metadata, Mapping) or "managedFields" not in metadata:
        return obj
    trimmed = {key: value for key, value in metadata.items() if key != "managedFields"}
    return {**obj, "metadata": trimmed}


class Activation:
    """The CEL variables of one request, converted only when a rule first needs them.

    Converting a Python object into CEL values costs about 2 µs per field, far more than the
    evaluation itself, so each variable is converted at most once per request, and only
    if an expression that uses it is reached. `metadata.managedFields`, half of a typical
    object, is left out unless an expression names it.
    """

    def __init__(
        self, request: Mapping[str, Any], functions: Mapping[str, Any], managed_fields: bool
    ) -> None:
        self._request = request
        self._functions = functions
        self._managed_fields = managed_fields
        self._context: cel.Context | None = None
        self._bound: set[str] = set()

    def context(self, variables: frozenset[str]) -> cel.Context:
        if self._context is None:
            self._context = cel.Context(functions=dict(self._functions))
        for name in variables.difference(self._bound):
            self._context.add_variable(name, self._value(name))
            self._bound.add(name)
        return self._context

    def _value(self, name: str) -> Any:
        if name == "request":
            return _cel_request(self._request)
        obj = self._request.get(name)
        return obj if self._managed_fields else _without_managed_fields(obj)

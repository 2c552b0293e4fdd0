"""Every kind of bad rule is a RuleError, on one line, that names the rule and the problem."""

from __future__ import annotations

from typing import Any

import pytest

from logistis.collector.admission.rules import RuleError, build_rules

BAD_CONFIGS: list[tuple[Any, list[str]]] = [
    (["include"], ["capture", "mapping", "list"]),
    ({"includes": []}, ["capture", "unknown key 'includes'"]),
    ({"dryRun": "no"}, ["capture", "dryRun", "'no'"]),
    ({"include": {"users": ["a"]}}, ["capture", "include", "list of rules"]),
    ({"exclude": ["alice"]}, ["exclude[0]", "mapping", "str"]),
    ({"exclude": [{"users": ["a"]}, {"name": "x", "user": ["b"]}]}, ["'x'", "unknown key 'user'"]),
    ({"exclude": [{"users": ["a"]}, {"users": ["b"]}, {"usrs": ["c"]}]}, ["exclude[2]", "'usrs'"]),
    ({"include": [{"name": "only-name"}]}, ["'only-name'", "no selector"]),
    ({"include": [{"name": 7, "users": ["a"]}]}, ["include[0]", "name"]),
    ({"include": [{"name": "", "users": ["a"]}]}, ["include[0]", "name"]),
    ({"include": [{"name": "empty", "users": []}]}, ["'empty'", "users", "non-empty list"]),
    ({"include": [{"name": "num", "namespaces": [7]}]}, ["'num'", "namespaces", "strings", "7"]),
    ({"include": [{"name": "null", "groups": None}]}, ["'null'", "groups"]),
    ({"include": [{"name": "rx", "users": ["re:(unclosed"]}]}, ["'rx'", "users", "bad regex"]),
    ({"include": [{"name": "kx", "kinds": ["re:[a-"]}]}, ["'kx'", "kinds", "bad regex"]),
    ({"include": [{"name": "k", "kinds": ["apps/"]}]}, ["'k'", "kinds", "'apps/'", "no kind"]),
    ({"include": [{"name": "op", "operations": ["PATCH"]}]}, ["'op'", "operations", "PATCH"]),
    ({"include": [{"name": "ex", "extra": ["reason"]}]}, ["'ex'", "extra", "map"]),
    ({"include": [{"name": "ex2", "extra": {"reason": 5}}]}, ["'ex2'", "extra", "5"]),
    (
        {"exclude": [{"name": "syntax", "cel": "object.spec.replicas >"}]},
        ["'syntax'", "cel", "ERROR"],
    ),
    (
        {"exclude": [{"name": "multi", "cel": "object.spec.replicas\n  && ("}]},
        ["'multi'", "cel", "does not compile"],
    ),
    ({"exclude": [{"name": "typo", "cel": "obj.spec.replicas > 1"}]}, ["'typo'", "variable obj"]),
    ({"exclude": [{"name": "nocel", "cel": 5}]}, ["'nocel'", "cel", "string"]),
    ({"exclude": [{"name": "blank", "cel": "  "}]}, ["'blank'", "cel", "string"]),
    (
        {
            "include": [{"name": "same", "users": ["a"]}],
            "exclude": [{"name": "same", "users": ["b"]}],
        },
        ["'same'", "another rule"],
    ),
]


@pytest.mark.parametrize(("config", "expected"), BAD_CONFIGS)
def test_bad_rule_is_named(config: Any, expected: list[str]) -> None:
    with pytest.raises(RuleError) as error:
        build_rules(config)
    message = str(error.value)
    assert "\n" not in message
    for part in expected:
        assert part in message


def test_bad_flags_are_named() -> None:
    with pytest.raises(RuleError, match=r"'cli-exclude-users': users: bad regex"):
        build_rules(None, exclude={"users": ["re:[z-a]"]})
    with pytest.raises(RuleError, match=r"'cli-include': operations: unknown operation GET"):
        build_rules(None, include={"users": ["alice"], "operations": ["GET"]})
    with pytest.raises(RuleError, match=r"'cli-include': no such flag selector \['cel'\]"):
        build_rules(None, include={"cel": ["true"]})


def test_macro_variables_and_type_names_are_not_unknown_variables() -> None:
    build_rules(
        {
            "include": [
                {"cel": "object.spec.containers.all(c, c.image.endsWith(':latest'))"},
                {"cel": "type(object.spec.replicas) == int"},
                {"cel": "request.userInfo.groups.exists(g, g == 'qa')"},
            ]
        }
    )

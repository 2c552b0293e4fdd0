"""Hypothesis strategies for hostile admission bodies, built from the real fixtures.

Two families with known outcomes. `broken_reviews` break a field that makes a body an
AdmissionReview (wrong type, absent, a duplicate whose last copy is wrong, bytes that are not
UTF-8 or not JSON): the answer must be a 4xx with a JSON error and nothing stored. `odd_reviews`
keep the envelope right and put anything at all where Kubernetes puts free-form content (the
objects, the options, unknown fields, huge strings, deep nesting): the answer must be
`allowed: true` and the collector must go on recording.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st

from .load import Review, fresh_review, recorded_fixtures

# Where the envelope lives, and what each place must hold ("str?": a string when present).
ENVELOPE: dict[tuple[str, ...], str] = {
    ("apiVersion",): "apiVersion",
    ("kind",): "AdmissionReview",
    ("request",): "object",
    ("request", "uid"): "nonempty str",
    ("request", "operation"): "operation",
    ("request", "kind"): "object",
    ("request", "kind", "group"): "str",
    ("request", "kind", "version"): "str",
    ("request", "kind", "kind"): "str",
    ("request", "resource"): "object",
    ("request", "resource", "group"): "str",
    ("request", "resource", "version"): "str",
    ("request", "resource", "resource"): "str",
    ("request", "name"): "str?",
    ("request", "namespace"): "str?",
    ("request", "subResource"): "str?",
    ("request", "userInfo"): "object",
    ("request", "userInfo", "username"): "str",
    ("request", "userInfo", "uid"): "str?",
    ("request", "userInfo", "groups"): "list of str?",
    ("request", "userInfo", "extra"): "map of str lists?",
    ("request", "object"): "object or null",
    ("request", "oldObject"): "object or null",
    ("request", "options"): "object or null",
    ("request", "dryRun"): "bool?",
    # The options' fields by their Kubernetes types; each may also be null.
    ("request", "options", "fieldManager"): "nullable str?",
    ("request", "options", "fieldValidation"): "nullable str?",
    ("request", "options", "propagationPolicy"): "nullable str?",
    ("request", "options", "kind"): "nullable str?",
    ("request", "options", "apiVersion"): "nullable str?",
    ("request", "options", "dryRun"): "nullable list of str?",
    ("request", "options", "force"): "nullable bool?",
    ("request", "options", "orphanDependents"): "nullable bool?",
    ("request", "options", "gracePeriodSeconds"): "nullable int64?",
    ("request", "options", "preconditions"): "object or null",
}
FREE_FORM = (("request", "object"), ("request", "oldObject"), ("request", "options"))

text = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)
# Integers JSON carries that 64 bits do not (orjson reads up to 2^64 - 1 as an int).
past_int64 = st.integers(2**63, 2**64 - 1) | st.sampled_from([2**63, 2**64 - 1])
scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | text
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4),
    max_leaves=20,
)


def _wrong_for(expected: str) -> st.SearchStrategy[Any]:
    """Values that break `expected` (a missing optional field is fine, so never absence)."""
    if expected.startswith("nullable "):
        return _wrong_for(expected.removeprefix("nullable ")).filter(lambda v: v is not None)
    if expected == "object":
        return json_values.filter(lambda v: not isinstance(v, dict))
    if expected == "object or null":
        return json_values.filter(lambda v: v is not None and not isinstance(v, dict))
    if expected == "bool?":
        return json_values.filter(lambda v: not isinstance(v, bool))
    if expected == "int64?":
        return past_int64 | json_values.filter(
            lambda v: not isinstance(v, int) or isinstance(v, bool)
        )
    if expected == "list of str?":
        return json_values.filter(
            lambda v: not (isinstance(v, list) and all(isinstance(s, str) for s in v))
        )
    if expected == "map of str lists?":
        return st.dictionaries(text, json_values, min_size=1).filter(
            lambda v: (
                not all(
                    isinstance(x, list) and all(isinstance(s, str) for s in x) for x in v.values()
                )
            )
        ) | json_values.filter(lambda v: not isinstance(v, dict))
    not_a_string = json_values.filter(lambda v: not isinstance(v, str))
    if expected == "nonempty str":
        return not_a_string | st.just("")
    if expected in ("apiVersion", "AdmissionReview", "operation"):
        return json_values.filter(
            lambda v: (
                v not in ("admission.k8s.io/v1", "admission.k8s.io/v1beta1", "AdmissionReview")
                and v not in ("CREATE", "UPDATE", "DELETE", "CONNECT")
            )
        )
    return not_a_string


def _required(expected: str) -> bool:
    return not expected.endswith("?") and expected != "object or null"


def _set(review: Review, path: tuple[str, ...], value: Any) -> None:
    target = review
    for key in path[:-1]:
        if not isinstance(target.get(key), dict):
            target[key] = {}
        target = target[key]
    target[path[-1]] = value


def _remove(review: Review, path: tuple[str, ...]) -> None:
    target = review
    for key in path[:-1]:
        target = target.get(key) or {}
    target.pop(path[-1], None)


bases = st.sampled_from(recorded_fixtures()).map(fresh_review)


@st.composite
def _wrong_field(draw: st.DrawFn) -> bytes:
    review = draw(bases)
    path, expected = draw(st.sampled_from(sorted(ENVELOPE.items())))
    if _required(expected) and draw(st.booleans()):
        _remove(review, path)
    else:
        _set(review, path, draw(_wrong_for(expected)))
    return json.dumps(review).encode()


@st.composite
def _duplicate_last_wrong(draw: st.DrawFn) -> bytes:
    """A key given twice, the right value first: parsers keep the last."""
    review = draw(bases)
    path, expected = draw(
        st.sampled_from([(p, e) for p, e in sorted(ENVELOPE.items()) if len(p) <= 2])
    )
    parent = review if len(path) == 1 else review[path[0]]
    right = parent.get(path[-1], "x")
    parent[path[-1]] = draw(_wrong_for(expected))
    return _with_duplicate(review, path, right)


def _with_duplicate(review: Review, path: tuple[str, ...], first: Any) -> bytes:
    key = json.dumps(path[-1])
    if len(path) == 1:
        return f"{{{key}:{json.dumps(first)},{json.dumps(review)[1:]}".encode()
    request = json.dumps(review[path[0]])
    inner = f"{{{key}:{json.dumps(first)},{request[1:]}"
    outer = {k: v for k, v in review.items() if k != path[0]}
    return f"{{{json.dumps(path[0])}:{inner},{json.dumps(outer)[1:]}".encode()


@st.composite
def _not_utf8(draw: st.DrawFn) -> bytes:
    body = json.dumps(draw(bases)).encode()
    bad = draw(st.sampled_from([b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80"]))
    at = body.index(b'"uid": "') + len(b'"uid": "')
    return body[:at] + bad + body[at:]


@st.composite
def _nested_too_deep(draw: st.DrawFn) -> bytes:
    review = draw(bases)
    # Past the 254 levels the store encodes, and past the 1024 the parser reads.
    depth = draw(st.integers(254, 1030) | st.integers(1030, 20_000))
    body = json.dumps(review).encode()
    return body[:-1] + b', "deep": ' + b"[" * depth + b"]" * depth + b"}"


@st.composite
def _oversized(draw: st.DrawFn) -> bytes:
    """Past the default 3 MiB limit; the apiserver's own objects stay under 1.5 MiB."""
    review = draw(bases)
    review["request"]["object"] = {"padding": "x" * draw(st.integers(3 * 2**20, 4 * 2**20))}
    return json.dumps(review).encode()


broken_reviews = st.one_of(
    _oversized(),
    _wrong_field(),
    _duplicate_last_wrong(),
    _not_utf8(),
    _nested_too_deep(),
    st.binary(max_size=200),
    json_values.filter(lambda v: not isinstance(v, dict)).map(lambda v: json.dumps(v).encode()),
    st.just(b""),
    st.just(b'{"kind": "AdmissionReview", "request": {"uid": "\\ud800"}}'),
)


@st.composite
def _odd_contents(draw: st.DrawFn) -> Review:
    review = draw(bases)
    for path in FREE_FORM:
        if draw(st.booleans()):
            keys = text.filter(lambda k, path=path: (*path, k) not in ENVELOPE)
            _set(review, path, draw(st.none() | st.dictionaries(keys, json_values, max_size=6)))
    if draw(st.booleans()):
        review["request"][draw(text.filter(lambda k: ("request", k) not in ENVELOPE))] = draw(
            json_values
        )
        review[draw(text.filter(lambda k: (k,) not in ENVELOPE))] = draw(json_values)
    return review


@st.composite
def _secret_with_odd_data(draw: st.DrawFn) -> Review:
    review = fresh_review(draw(st.sampled_from(_secret_fixtures())))
    for name in ("object", "oldObject"):
        if review["request"].get(name):
            for field in ("data", "stringData"):
                review["request"][name][field] = draw(json_values)
    return review


def _secret_fixtures() -> list[Review]:
    return [b for b in recorded_fixtures() if b["request"]["resource"]["resource"] == "secrets"]


@st.composite
def _huge_or_deep(draw: st.DrawFn) -> Review:
    review = draw(bases)
    obj = review["request"].get("object") or {}
    if draw(st.booleans()):
        obj["huge"] = draw(st.sampled_from("aé€😀")) * draw(st.integers(10_000, 150_000))
    else:
        # Deep, within what the store encodes (254 levels, the envelope's three included).
        depth = draw(st.integers(2, 251))
        nested: Any = "bottom"
        for _ in range(depth):
            nested = {"n": nested}
        obj["deep"] = nested
    review["request"]["object"] = obj
    return review


@st.composite
def _duplicate_last_right(draw: st.DrawFn) -> bytes:
    review = draw(bases)
    present = [
        (path, expected)
        for path, expected in sorted(ENVELOPE.items())
        if len(path) <= 2 and path[-1] in (review if len(path) == 1 else review[path[0]])
    ]
    path, expected = draw(st.sampled_from(present))
    return _with_duplicate(review, path, draw(_wrong_for(expected)))


odd_reviews = st.one_of(
    _odd_contents().map(lambda r: json.dumps(r).encode()),
    _secret_with_odd_data().map(lambda r: json.dumps(r).encode()),
    _huge_or_deep().map(lambda r: json.dumps(r).encode()),
    _duplicate_last_right(),
)


# -- type confusion over every field path of the real fixtures ---------------------------------

Path = tuple[str | int, ...]
confusing_values = (
    json_values
    | past_int64
    | st.sampled_from([-(2**63) - 1, 1e308, -0.0, "", "\x00", "a\x00b", [], {}, [[[]]], {"": {}}])
)


def _paths(value: Any, prefix: Path = ()) -> list[Path]:
    """Every path to a value inside `value`, containers and leaves alike."""
    found: list[Path] = [prefix] if prefix else []
    children = (
        value.items()
        if isinstance(value, dict)
        else enumerate(value)
        if isinstance(value, list)
        else ()
    )
    for key, child in children:
        found.extend(_paths(child, (*prefix, key)))
    return found


def _replace(review: Review, path: Path, value: Any) -> None:
    target: Any = review
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value


def _same_type(a: Any, b: Any) -> bool:
    # bool is an int to Python: compare the JSON types.
    return type(a) is type(b)


@st.composite
def type_confused(draw: st.DrawFn) -> tuple[Review, Path]:
    """A real fixture with the value at one of its field paths (any depth, envelope, objects
    and options alike) replaced by a value of another JSON type."""
    review = draw(bases)
    path = draw(st.sampled_from(_paths(review)))
    original: Any = review
    for key in path:
        original = original[key]
    _replace(review, path, draw(confusing_values.filter(lambda v: not _same_type(v, original))))
    return review, path

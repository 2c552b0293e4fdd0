"""Admission logic as plain functions: an AdmissionReview in, a response and an event out.

Nothing here knows about HTTP; `collector.webhook` maps `InvalidReview` to a 400. The review is
checked at this edge, by type, for every field the collector reads: nothing past it meets a
value of a type it does not expect (an integer where SQLite wants text, a list where a set
lookup wants something hashable). The answer is always `allowed: true`: logistis observes, it
never gates the cluster.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import msgspec
import orjson
from msgspec import UNSET, UnsetType

from logistis.collector.admission.kinds import KindResolver
from logistis.collector.errors import CollectorError
from logistis.collector.history.events import (
    OPERATIONS,
    Event,
    JSONObject,
    Operation,
    RawJSON,
    ResourceRef,
    UserInfo,
    json_value,
)

API_VERSIONS = frozenset({"admission.k8s.io/v1", "admission.k8s.io/v1beta1"})


INT64 = range(-(2**63), 2**63)
# orjson, which encodes what the store keeps, refuses to go deeper than this (the body itself is
# level 1). Real reviews stay far below it: the deepest of testdata/admission is 15 levels.
MAX_DEPTH = 254


class InvalidReview(CollectorError, ValueError):
    """The body is not an AdmissionReview request this collector can read; `field` names
    the part that is wrong."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field} {problem}")
        self.field = field


@dataclass(frozen=True, slots=True)
class Review:
    api_version: str
    request: JSONObject

    @property
    def uid(self) -> str:
        return str(self.request["uid"])


def read_review(raw: bytes, *, whole: bool = False) -> Review:
    """Parse and check a request body: every field the collector reads has its type, and the
    whole review is one the store can encode. Unless `whole` is asked for (capture rules with
    CEL read any part of it), the envelope is decoded and checked in one compiled pass and the
    objects are kept as the JSON they came in; a body that pass does not take is read again
    as a whole, which decides and words its 400 (one wording, whichever way a body came)."""
    if not whole and _plain(raw):
        review = _envelope(raw)
        if review is not None:
            return review
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        if str(error).startswith("depth limit exceeded"):
            raise InvalidReview("body", f"is nested deeper than {MAX_DEPTH} levels") from None
        raise InvalidReview("body", f"is not JSON: {error}") from None
    review = parse_review(body)
    # A review the JSON encoder cannot write back (nested past its limit) is refused here, the
    # same way at every depth, rather than answered and then lost by the store. Nesting needs
    # an opening bracket per level: a body with few of them (nearly every review) cannot be
    # too deep, and is not encoded again to find out (counting: ~3 µs of a 4 KB review; the
    # encoding: 6-10 µs).
    if raw.count(b"{") + raw.count(b"[") > MAX_DEPTH:
        try:
            orjson.dumps(body)
        except orjson.JSONEncodeError:
            raise InvalidReview("body", f"is nested deeper than {MAX_DEPTH} levels") from None
    return review


# -- the envelope, decoded in one compiled pass ---------------------------------------------------


class _KindRef(msgspec.Struct):
    group: str
    version: str
    kind: str


class _ResourceRef(msgspec.Struct):
    group: str
    version: str
    resource: str


class _User(msgspec.Struct):
    username: str
    uid: str | UnsetType = UNSET
    groups: list[str] | UnsetType = UNSET
    extra: dict[str, list[str]] | UnsetType = UNSET


class _Request(msgspec.Struct):
    uid: str
    operation: Operation
    kind: _KindRef
    resource: _ResourceRef
    userInfo: _User
    name: str | UnsetType = UNSET
    namespace: str | UnsetType = UNSET
    subResource: str | UnsetType = UNSET
    dryRun: bool | UnsetType = UNSET
    # Small, and decoded by orjson as the whole body would be (an integer past 64 bits is a
    # float to orjson, an int to msgspec): then checked by `_check_options`.
    options: msgspec.Raw = msgspec.Raw(b"null")
    object: msgspec.Raw = msgspec.Raw(b"null")
    oldObject: msgspec.Raw = msgspec.Raw(b"null")


class _Review(msgspec.Struct):
    kind: Literal["AdmissionReview"]
    apiVersion: Literal["admission.k8s.io/v1", "admission.k8s.io/v1beta1"]
    request: _Request


_ENVELOPE = msgspec.json.Decoder(_Review)
# What the compiled pass skips over inside the objects without checking it as orjson would: a
# number past a double's range (orjson refuses 1e400, the store could not read it back). Such a
# number has a three-digit exponent or 200 digits before its point (199 and a two-digit
# exponent stay below 1e300); the text is mapped so that digits read 0, an exponent e and what
# may precede a number | (C speed, no regex: one over the 150,000 items of a large list took
# 80 ms), then searched for those shapes (a run of 100 zeros: 11-29 ms there, of 200: 3.5).
_NUMBER_TEXT = bytes.maketrans(b"0123456789E:,[ \t\r\n", b"0000000000e|||||||")
_LONG_DIGITS = b"0" * 200


def _may_overflow(raw: bytes) -> bool:
    """Whether the body may hold a number past a double's range; may say so of one that is
    not, or of text inside a string (the body then goes the whole way: slower, as exact)."""
    text = raw.translate(_NUMBER_TEXT)
    if _LONG_DIGITS in text:
        return True
    # A digit then an exponent: searched for its `e` (rarer than a digit, the search skips
    # on it), then its digits and what comes before it looked at.
    at = text.find(b"0e")
    while at >= 0:
        if _long_exponent(text, at + 2) and _number_at(text, at):
            return True
        at = text.find(b"0e", at + 2)
    return False


def _long_exponent(text: bytes, at: int) -> bool:
    sign = text[at : at + 1] in (b"+", b"-")
    return text[at + sign : at + sign + 3] == b"000"


def _number_at(text: bytes, digit: int) -> bool:
    """Whether the digit at `digit`, before an exponent, is in a number token: digits (a
    point, a sign) back to what may precede a number."""
    start = digit
    while start > 0 and text[start - 1] in b"0.-":
        start -= 1
    return start == 0 or text[start - 1] == ord("|")


def _plain(raw: bytes) -> bool:
    """Whether the compiled pass may take the body: shallow enough that no depth limit can
    apply (nesting needs an opening bracket per level), valid UTF-8 (the pass does not check
    the objects' text), and no number that may overflow."""
    if raw.count(b"{") + raw.count(b"[") > MAX_DEPTH:
        return False
    if not raw.isascii():
        try:
            raw.decode()
        except UnicodeDecodeError:
            return False
    return not _may_overflow(raw)


def _envelope(raw: bytes) -> Review | None:
    """The review from the compiled pass; None when it does not take the body as valid."""
    try:
        review = _ENVELOPE.decode(raw)
    except msgspec.DecodeError:
        return None
    request = review.request
    objects = _objects(request)
    if not request.uid or objects is None:
        return None
    try:
        options = orjson.loads(memoryview(request.options))
        if options is not None and not isinstance(options, dict):
            return None
        _check_options(options)
    except (orjson.JSONDecodeError, InvalidReview):
        return None
    fields = _set_fields(request) | objects | {"options": options}
    for name in ("kind", "resource", "userInfo"):
        fields[name] = _set_fields(fields[name])
    return Review(review.apiVersion, fields)


_TYPE_NAMES: dict[type, str] = {str: "a string", list: "a list", dict: "an object"}


def _objects(request: _Request) -> dict[str, RawJSON | None] | None:
    """The objects' JSON as it came (null or absent: None); None when one is neither an
    object nor null (the body is then read whole, and refused with its field named)."""
    objects: dict[str, RawJSON | None] = {}
    for name, raw in (("object", request.object), ("oldObject", request.oldObject)):
        view = memoryview(raw)
        # A memoryview compares by content with bytes (typeshed says they never match).
        if view == b"null":  # type: ignore[comparison-overlap]
            objects[name] = None
        elif view[:1] == b"{":  # type: ignore[comparison-overlap]
            objects[name] = RawJSON(bytes(view))
        else:
            return None
    return objects


def _set_fields(struct: msgspec.Struct) -> dict[str, Any]:
    return {k: v for k, v in msgspec.structs.asdict(struct).items() if v is not UNSET}


def parse_review(body: Any) -> Review:
    if not isinstance(body, dict):
        raise InvalidReview("body", "must be a JSON object")
    if body.get("kind") != "AdmissionReview":
        raise InvalidReview("kind", f"must be AdmissionReview, got {_shown(body.get('kind'))}")
    api_version = body.get("apiVersion")
    # A set lookup of an unhashable value (a list, an object) raises: check the type first.
    if not isinstance(api_version, str) or api_version not in API_VERSIONS:
        raise InvalidReview(
            "apiVersion", f"must be one of {sorted(API_VERSIONS)}, got {_shown(api_version)}"
        )
    request = _object(body, "request", "")
    _check_request(request)
    return Review(api_version, request)


def allowed_response(review: Review) -> JSONObject:
    """The answer, in the request's own apiVersion, with its uid echoed."""
    return {
        "apiVersion": review.api_version,
        "kind": "AdmissionReview",
        "response": {"uid": review.uid, "allowed": True},
    }


# -- the declared types of what the collector reads -------------------------------------------

Check = Callable[[Any], bool]


def _is_string(value: Any) -> bool:
    return isinstance(value, str)


def _is_bool(value: Any) -> bool:
    return isinstance(value, bool)


def _is_int64(value: Any) -> bool:
    # bool is an int to Python, not to Kubernetes; a float is not an int64 even when whole.
    return isinstance(value, int) and not isinstance(value, bool) and value in INT64


def _is_string_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def _is_string_lists(value: Any) -> bool:
    return isinstance(value, dict) and all(_is_string_list(v) for v in value.values())


TYPE_NAMES: dict[Check, str] = {
    _is_string: "a string",
    _is_bool: "a boolean",
    _is_int64: "a 64-bit integer",
    _is_string_list: "a list of strings",
    _is_string_lists: "an object of lists of strings",
}

# The fields of CreateOptions, UpdateOptions, PatchOptions and DeleteOptions (meta/v1), by their
# Kubernetes types. Every one may be null (Go decodes null into any of them) or absent; fields
# the collector does not know are kept as they came.
OPTION_FIELDS: dict[str, Check] = {
    "apiVersion": _is_string,
    "kind": _is_string,
    "dryRun": _is_string_list,
    "fieldManager": _is_string,
    "fieldValidation": _is_string,
    "force": _is_bool,
    "gracePeriodSeconds": _is_int64,
    "orphanDependents": _is_bool,
    "propagationPolicy": _is_string,
    "ignoreStoreReadErrorWithClusterBreakingPotential": _is_bool,
}
PRECONDITION_FIELDS: dict[str, Check] = {"uid": _is_string, "resourceVersion": _is_string}


def _check_request(request: JSONObject) -> None:
    _require(request, "uid", _is_string, "request.")
    if not request["uid"]:
        raise InvalidReview("request.uid", "must be a non-empty string")
    operation = request.get("operation")
    if not isinstance(operation, str) or operation not in OPERATIONS:
        raise InvalidReview("request.operation", f"must be one of {sorted(OPERATIONS)}")
    for key in ("kind", "resource"):
        section = _object(request, key, "request.")
        for field in ("group", "version", "kind" if key == "kind" else "resource"):
            _require(section, field, _is_string, f"request.{key}.")
    _optional(request, ("name", "namespace", "subResource"), _is_string, "request.")
    _check_user(_object(request, "userInfo", "request."))
    for key in ("object", "oldObject", "options"):
        if request.get(key) is not None and not isinstance(request[key], dict):
            raise InvalidReview(f"request.{key}", "must be an object or null")
    _check_options(request.get("options"))
    _optional(request, ("dryRun",), _is_bool, "request.")


def _check_user(user: JSONObject) -> None:
    _require(user, "username", _is_string, "request.userInfo.")
    _optional(user, ("uid",), _is_string, "request.userInfo.")
    _optional(user, ("groups",), _is_string_list, "request.userInfo.")
    _optional(user, ("extra",), _is_string_lists, "request.userInfo.")


def _check_options(options: JSONObject | None) -> None:
    if options is None:
        return
    for key, check in OPTION_FIELDS.items():
        _optional(options, (key,), check, "request.options.", nullable=True)
    preconditions = options.get("preconditions")
    if preconditions is None:
        return
    if not isinstance(preconditions, dict):
        raise InvalidReview("request.options.preconditions", "must be an object or null")
    for key, check in PRECONDITION_FIELDS.items():
        _optional(preconditions, (key,), check, "request.options.preconditions.", nullable=True)


def _object(parent: JSONObject, key: str, where: str) -> JSONObject:
    value = parent.get(key)
    if not isinstance(value, dict):
        raise InvalidReview(f"{where}{key}", "is missing or not an object")
    return value


def _require(parent: JSONObject, key: str, check: Check, where: str) -> None:
    if key not in parent:
        raise InvalidReview(f"{where}{key}", f"is missing (must be {TYPE_NAMES[check]})")
    _optional(parent, (key,), check, where)


def _optional(
    parent: JSONObject, keys: Iterable[str], check: Check, where: str, *, nullable: bool = False
) -> None:
    for key in keys:
        if key not in parent or (nullable and parent[key] is None):
            continue
        if not check(parent[key]):
            raise InvalidReview(
                f"{where}{key}", f"must be {TYPE_NAMES[check]}, got {_shown(parent[key])}"
            )


def _shown(value: Any) -> str:
    """The JSON type of a wrong value, never the value: it may be anything, a Secret's
    included, and the answer goes back to the apiserver, which may log it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return (
            "a number"
            if _is_int64(value) or isinstance(value, float)
            else "an integer past 64 bits"
        )
    return _TYPE_NAMES.get(type(value), type(value).__name__)


def event_from_request(request: JSONObject, received: datetime, kinds: KindResolver) -> Event:
    """Build the event for a validated request (after capture rules and redaction)."""
    resource = request["resource"]
    group, plural = resource["group"], resource["resource"]
    subresource = request.get("subResource", "")
    if not subresource:
        kinds.learn(group, plural, request["kind"]["kind"])
    options = request.get("options")
    return Event(
        uid=request["uid"],
        time=received,
        operation=request["operation"],
        dry_run=bool(request.get("dryRun", False)),
        user=_user(request["userInfo"]),
        resource=ResourceRef(
            group=group,
            version=resource["version"],
            kind=kinds.kind_of(group, plural),
            resource=plural,
            subresource=subresource,
        ),
        namespace=_namespace(request),
        name=_name(request),
        field_manager=(options or {}).get("fieldManager", "") or "",
        object=request.get("object"),
        old_object=request.get("oldObject"),
        options=options,
    )


def _user(user: JSONObject) -> UserInfo:
    # An impersonated request carries only the impersonated identity; that is what we record.
    return UserInfo(
        username=user["username"],
        uid=user.get("uid", ""),
        groups=tuple(user.get("groups", ())),
        extra=user.get("extra", {}),
    )


def _namespace(request: JSONObject) -> str:
    # Namespace objects arrive with their own name as `namespace`; they are cluster-scoped.
    if request["resource"]["group"] == "" and request["resource"]["resource"] == "namespaces":
        return ""
    namespace: str = request.get("namespace", "")
    return namespace


def _name(request: JSONObject) -> str:
    name: str = request.get("name") or ""
    if name:
        return name
    # DeleteCollection items carry no name: the object being deleted does.
    for key in ("oldObject", "object"):
        metadata = (json_value(request.get(key)) or {}).get("metadata")
        if isinstance(metadata, dict) and isinstance(named := metadata.get("name"), str):
            return named
    return ""

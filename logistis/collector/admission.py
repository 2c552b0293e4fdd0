"""Admission logic as plain functions: an AdmissionReview in, a response and an event out.

Nothing here knows about HTTP; `collector.webhook` maps `InvalidReview` to a 400. The answer
is always `allowed: true`: logistis observes, it never gates the cluster.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from logistis.collector.events import Event, JSONObject, ResourceRef, UserInfo
from logistis.collector.kinds import KindResolver

API_VERSIONS = frozenset({"admission.k8s.io/v1", "admission.k8s.io/v1beta1"})
OPERATIONS = frozenset({"CREATE", "UPDATE", "DELETE", "CONNECT"})


class InvalidReview(ValueError):
    """The body is not an AdmissionReview request this collector can read."""


@dataclass(frozen=True, slots=True)
class Review:
    api_version: str
    request: JSONObject

    @property
    def uid(self) -> str:
        return str(self.request["uid"])


def parse_review(body: Any) -> Review:
    if not isinstance(body, dict):
        raise InvalidReview("body must be a JSON object")
    if body.get("kind") != "AdmissionReview":
        raise InvalidReview(f"kind must be AdmissionReview, got {body.get('kind')!r}")
    api_version = body.get("apiVersion")
    # A set lookup of an unhashable value (a list, an object) raises: check the type first.
    if not isinstance(api_version, str) or api_version not in API_VERSIONS:
        raise InvalidReview(
            f"apiVersion must be one of {sorted(API_VERSIONS)}, got {api_version!r}"
        )
    request = body.get("request")
    if not isinstance(request, dict):
        raise InvalidReview("request is missing or not an object")
    _check_request(request)
    return Review(api_version, request)


def allowed_response(review: Review) -> JSONObject:
    """The answer, in the request's own apiVersion, with its uid echoed."""
    return {
        "apiVersion": review.api_version,
        "kind": "AdmissionReview",
        "response": {"uid": review.uid, "allowed": True},
    }


def _check_request(request: JSONObject) -> None:
    _require_str(request, "uid", nonempty=True)
    operation = request.get("operation")
    if not isinstance(operation, str) or operation not in OPERATIONS:
        raise InvalidReview(f"request.operation must be one of {sorted(OPERATIONS)}")
    for key in ("kind", "resource"):
        section = request.get(key)
        if not isinstance(section, dict):
            raise InvalidReview(f"request.{key} is missing or not an object")
        for field in ("group", "version", "kind" if key == "kind" else "resource"):
            _require_str(section, field, where=f"request.{key}.")
    for key in ("name", "namespace", "subResource"):
        if key in request:
            _require_str(request, key)
    _check_user(request.get("userInfo"))
    for key in ("object", "oldObject", "options"):
        if request.get(key) is not None and not isinstance(request[key], dict):
            raise InvalidReview(f"request.{key} must be an object or null")
    if not isinstance(request.get("dryRun", False), bool):
        raise InvalidReview("request.dryRun must be a boolean")


def _check_user(user: Any) -> None:
    if not isinstance(user, dict):
        raise InvalidReview("request.userInfo is missing or not an object")
    _require_str(user, "username", where="request.userInfo.")
    if "uid" in user:
        _require_str(user, "uid", where="request.userInfo.")
    groups = user.get("groups", [])
    if not isinstance(groups, list) or not all(isinstance(g, str) for g in groups):
        raise InvalidReview("request.userInfo.groups must be a list of strings")
    extra = user.get("extra", {})
    if not isinstance(extra, dict) or not all(
        isinstance(v, list) and all(isinstance(s, str) for s in v) for v in extra.values()
    ):
        raise InvalidReview("request.userInfo.extra must map strings to lists of strings")


def _require_str(obj: Mapping[str, Any], key: str, *, where: str = "request.", nonempty=False):
    value = obj.get(key)
    if not isinstance(value, str) or (nonempty and not value):
        raise InvalidReview(f"{where}{key} must be a {'non-empty ' if nonempty else ''}string")


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
    return request.get("namespace", "")


def _name(request: JSONObject) -> str:
    if request.get("name"):
        return request["name"]
    # DeleteCollection items carry no name: the object being deleted does.
    for key in ("oldObject", "object"):
        metadata = (request.get(key) or {}).get("metadata")
        if isinstance(metadata, dict) and isinstance(metadata.get("name"), str):
            return metadata["name"]
    return ""

"""A stand-in for the few kube-apiserver endpoints self-managed TLS uses.

It serves, on 127.0.0.1, GET/POST/PATCH of Secrets (merge patch, with the
resourceVersion precondition the real server applies), GET/PATCH of
ValidatingWebhookConfigurations (JSON patch, `test` operations included) and GET/PATCH
of APIServices (merge patch), and it
authorizes every request against RBAC rules as the apiserver would, so the
rendered Role and ClusterRole are proven sufficient, and no more is used. What it stores
passes the apiserver's validation first (`tests.deploy.validation`), with the apiserver's
status and message when it does not.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jsonpatch

from tests.deploy.validation import (
    Invalid,
    apiservice_errors,
    secret_errors,
    webhook_configuration_errors,
)

SECRET_PATH = re.compile(r"^/api/v1/namespaces/(?P<ns>[^/]+)/secrets(?:/(?P<name>[^/]+))?$")
WEBHOOK_PATH = re.compile(
    r"^/apis/admissionregistration\.k8s\.io/v1/validatingwebhookconfigurations/(?P<name>[^/]+)$"
)
APISERVICE_PATH = re.compile(r"^/apis/apiregistration\.k8s\.io/v1/apiservices/(?P<name>[^/]+)$")
ADMISSION = "admissionregistration.k8s.io"
REGISTRATION = "apiregistration.k8s.io"
JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
VERBS = {"GET": "get", "POST": "create", "PUT": "update", "PATCH": "patch"}
Object = dict[str, Any]
Validator = Callable[[Object], list[str]]


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    content_type: str


@dataclass
class Grant:
    """One RBAC rule, as rendered, with the namespace its Role lives in (None: cluster)."""

    rule: Object
    namespace: str | None

    def allows(
        self, verb: str, group: str, resource: str, namespace: str | None, name: str
    ) -> bool:
        rule = self.rule
        return (
            self.namespace in (None, namespace)
            and verb in rule["verbs"]
            and group in rule["apiGroups"]
            and resource in rule["resources"]
            and (not rule.get("resourceNames") or name in rule["resourceNames"])
        )


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


@dataclass
class State:
    secrets: dict[tuple[str, str], Object] = field(default_factory=dict)
    webhooks: dict[str, Object] = field(default_factory=dict)
    apiservices: dict[str, Object] = field(default_factory=dict)
    grants: list[Grant] | None = None
    """None: everything is allowed."""
    requests: list[Request] = field(default_factory=list)
    failing: bool = False
    """Answer every request with 500, as an apiserver in trouble would."""
    before_next_patch: Object | None = None
    """Secret data another writer stores just before our next Secret patch arrives."""
    version: int = 100
    lock: threading.Lock = field(default_factory=threading.Lock)

    def next_version(self) -> str:
        self.version += 1
        return str(self.version)

    def writes(self) -> list[tuple[str, str]]:
        return [(r.method, r.path) for r in self.requests if r.method != "GET"]


def _status(code: HTTPStatus, message: str) -> Object:
    return {
        "apiVersion": "v1",
        "kind": "Status",
        "status": "Failure",
        "message": message,
        "reason": code.phrase.replace(" ", ""),
        "code": code.value,
    }


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the tests assert on `State.requests` instead."""

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_PATCH(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def _handle(self) -> None:
        state = self.server.state
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        content_type = self.headers.get("Content-Type", "").split(";")[0]
        with state.lock:
            state.requests.append(Request(self.command, self.path, content_type))
            code, answer = self._route(state, content_type, json.loads(body) if body else None)
        payload = json.dumps(answer).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _route(self, state: State, content_type: str, body: Any) -> tuple[int, Object]:
        if state.failing:
            return 500, _status(HTTPStatus.INTERNAL_SERVER_ERROR, "etcd is unavailable")
        if match := SECRET_PATH.match(self.path):
            # A create names the Secret in its body, not in its path.
            namespace = match["ns"]
            name = match["name"] or (body or {}).get("metadata", {}).get("name", "")
            denied = self._deny(state, "", "secrets", namespace, name)
            return denied or _secret(state, self.command, namespace, name, content_type, body)
        if match := WEBHOOK_PATH.match(self.path):
            name = match["name"]
            denied = self._deny(state, ADMISSION, "validatingwebhookconfigurations", None, name)
            request = (self.command, content_type, body)
            kind = ("ValidatingWebhookConfiguration", webhook_configuration_errors)
            return denied or _patch_object(
                state, state.webhooks, name, request, (JSON_PATCH, jsonpatch.apply_patch), kind
            )
        if match := APISERVICE_PATH.match(self.path):
            name = match["name"]
            denied = self._deny(state, REGISTRATION, "apiservices", None, name)
            request = (self.command, content_type, body)
            kind = ("APIService", apiservice_errors)
            return denied or _patch_object(
                state, state.apiservices, name, request, (MERGE_PATCH, merge_patch), kind
            )
        return 404, _status(HTTPStatus.NOT_FOUND, f"no route for {self.command} {self.path}")

    def _deny(
        self, state: State, group: str, resource: str, namespace: str | None, name: str
    ) -> tuple[int, Object] | None:
        verb = VERBS[self.command]
        if state.grants is None or any(
            g.allows(verb, group, resource, namespace, name) for g in state.grants
        ):
            return None
        where = f" in the namespace {namespace}" if namespace else ""
        message = f'cannot {verb} resource "{resource}" "{name}"{where}'
        return 403, _status(HTTPStatus.FORBIDDEN, message)


def _secret(
    state: State, method: str, namespace: str, name: str, content_type: str, body: Any
) -> tuple[int, Object]:
    key = (namespace, name)
    current = state.secrets.get(key)
    if method == "POST":
        if current is not None:
            return 409, _status(HTTPStatus.CONFLICT, f'secrets "{name}" already exists')
        created = merge_patch(body, {"metadata": {"resourceVersion": state.next_version()}})
        if refused := _refused("Secret", name, secret_errors, created):
            return refused
        state.secrets[key] = created
        return 201, created
    if current is None:
        return 404, _status(HTTPStatus.NOT_FOUND, f'secrets "{name}" not found')
    if method == "GET":
        return 200, current
    if method != "PATCH" or content_type != "application/merge-patch+json":
        return 415, _status(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, f"{method} {content_type}")
    if state.before_next_patch is not None:
        current["data"] = state.before_next_patch
        current["metadata"]["resourceVersion"] = state.next_version()
        state.before_next_patch = None
    wanted = body.get("metadata", {}).get("resourceVersion")
    if wanted and wanted != current["metadata"]["resourceVersion"]:
        message = "the object has been modified; please apply your changes to the latest version"
        return 409, _status(HTTPStatus.CONFLICT, message)
    patched = merge_patch(current, body)
    if refused := _refused("Secret", name, secret_errors, patched):
        return refused
    patched["metadata"]["resourceVersion"] = state.next_version()
    state.secrets[key] = patched
    return 200, patched


def _patch_object(
    state: State,
    store: dict[str, Object],
    name: str,
    request: tuple[str, str, Any],
    patching: tuple[str, Callable[[Object, Any], Object]],
    kind: tuple[str, Validator],
) -> tuple[int, Object]:
    """GET or PATCH (of `patching`'s type, applied with its function) of a cluster-scoped
    object; the patched object is kept only if `kind`'s validator finds nothing."""
    method, content_type, body = request
    patch_type, apply = patching
    current = store.get(name)
    if current is None:
        return 404, _status(HTTPStatus.NOT_FOUND, f'"{name}" not found')
    if method == "GET":
        return 200, current
    if method != "PATCH" or content_type != patch_type:
        return 415, _status(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, f"{method} {content_type}")
    try:
        patched = apply(current, body)
    except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException) as error:
        return 422, _status(HTTPStatus.UNPROCESSABLE_ENTITY, str(error))
    if refused := _refused(kind[0], name, kind[1], patched):
        return refused
    patched["metadata"]["resourceVersion"] = state.next_version()
    store[name] = patched
    return 200, patched


def _refused(
    kind: str, name: str, validate: Validator, candidate: Object
) -> tuple[int, Object] | None:
    """The apiserver's answer to storing `candidate`, if it would refuse it."""
    try:
        errors = validate(candidate)
    except Invalid as error:
        message = f'{kind} in version "v1" cannot be handled as a {kind}: {error}'
        return error.status, _status(HTTPStatus(error.status), message)
    if not errors:
        return None
    listed = errors[0] if len(errors) == 1 else "[" + ", ".join(errors) + "]"
    message = f'{kind} "{name}" is invalid: {listed}'
    return 422, _status(HTTPStatus.UNPROCESSABLE_ENTITY, message)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, state: State) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.state = state


@contextmanager
def serving(state: State) -> Iterator[str]:
    """Serve `state` on a loopback port; yields the base URL."""
    server = _Server(state)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.02}, name="stand-in-apiserver"
    )
    thread.start()
    try:
        host, port = server.server_address[:2]
        yield f"http://{host}:{port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()

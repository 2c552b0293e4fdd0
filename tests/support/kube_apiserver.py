"""A stand-in kube-apiserver in front of the collector's Kubernetes API.

What a real cluster does before a request reaches an aggregated API: it authenticates the
user (here: a bearer token per test user), authorizes the verb on the resource in the
namespace (here: a small RBAC table of its own, with the real Forbidden message), and
proxies the request to the collector with its front-proxy client certificate and the
X-Remote-User/X-Remote-Group headers. It also answers the discovery kubectl and the clients
ask first (`/api`, `/apis`, the namespace list). Served over TLS on 127.0.0.1; `kubeconfig`
writes a kubeconfig for one of its users.
"""

from __future__ import annotations

import json
import re
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import trustme
import yaml

from tests.support.collector import CollectorProcess
from tests.support.frontproxy import FrontProxy

GROUP = "logistis.io"
RESOURCE_PATH = re.compile(
    r"^/apis/logistis\.io/v1alpha1/(?:namespaces/(?P<ns>[^/]+)/)?(?P<resource>[^/]+)(?:/(?P<name>[^/]+))?$"
)
CORE_RESOURCES = {
    "kind": "APIResourceList",
    "apiVersion": "v1",
    "groupVersion": "v1",
    "resources": [
        {"name": "namespaces", "singularName": "namespace", "namespaced": False, "kind": "Namespace",
         "verbs": ["get", "list", "watch"], "shortNames": ["ns"]},
    ],
}  # fmt: skip


@dataclass(frozen=True)
class User:
    name: str
    token: str
    groups: tuple[str, ...] = ()


@dataclass(frozen=True)
class Allow:
    """One RBAC grant: `namespace=None` is a ClusterRoleBinding, else a RoleBinding."""

    user: str
    resource: str
    namespace: str | None = None
    group: str = GROUP
    verbs: tuple[str, ...] = ("get", "list", "watch")


@dataclass
class Cluster:
    users: list[User]
    rules: list[Allow]
    namespaces: list[str]
    aggregated: bool = True
    """False: the APIService is not installed (discovery does not list the group)."""
    requests: list[tuple[str, str]] = field(default_factory=list)

    def user(self, authorization: str | None) -> User | None:
        token = (authorization or "").removeprefix("Bearer ").strip()
        return next((u for u in self.users if u.token == token), None)

    def allows(
        self, user: User, verb: str, group: str, resource: str, namespace: str | None
    ) -> bool:
        return any(
            r.user == user.name
            and verb in r.verbs
            and r.group == group
            and r.resource == resource
            and r.namespace in (None, namespace)
            for r in self.rules
        )


def _status(code: int, reason: str, message: str) -> dict[str, Any]:
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "code": code}  # fmt: skip


def forbidden(user: User, verb: str, group: str, resource: str, namespace: str | None) -> str:
    """The apiserver's own wording."""
    qualified = f"{resource}.{group}" if group else resource
    where = f' in the namespace "{namespace}"' if namespace else " at the cluster scope"
    return (
        f'{qualified} is forbidden: User "{user.name}" cannot {verb} resource "{resource}" '
        f'in API group "{group}"{where}'
    )


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests read `Cluster.requests`."""

    def do_GET(self) -> None:
        cluster = self.server.cluster
        cluster.requests.append(("GET", self.path))
        user = cluster.user(self.headers.get("Authorization"))
        if user is None:
            return self._json(401, _status(401, "Unauthorized", "Unauthorized"))
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        if url.path == "/version":
            return self._json(200, {"major": "1", "minor": "32", "gitVersion": "v1.32.0"})
        if url.path in ("/api", "/api/v1", "/apis") or url.path.startswith("/apis/logistis.io"):
            if not (match := RESOURCE_PATH.match(url.path)) or match["resource"] in ("v1alpha1",):
                return self._discovery(url.path, url.query)
            return self._resource(user, match, query, url)
        if url.path == "/api/v1/namespaces":
            if not cluster.allows(user, "list", "", "namespaces", None):
                message = forbidden(user, "list", "", "namespaces", None)
                return self._json(403, _status(403, "Forbidden", message))
            items = [{"metadata": {"name": n}} for n in cluster.namespaces]
            return self._json(
                200, {"kind": "NamespaceList", "apiVersion": "v1", "metadata": {}, "items": items}
            )
        return self._json(
            404, _status(404, "NotFound", "the server could not find the requested resource")
        )

    def _discovery(self, path: str, query: str) -> None:
        cluster = self.server.cluster
        if path == "/api":
            return self._json(
                200, {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []}
            )
        if path == "/api/v1":
            return self._json(200, CORE_RESOURCES)
        if not cluster.aggregated:
            if path == "/apis":
                return self._json(200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": []})
            return self._json(
                404, _status(404, "NotFound", "the server could not find the requested resource")
            )
        # The aggregator asks the collector itself, as system:kube-aggregator.
        self._forward(path + (f"?{query}" if query else ""), User("system:kube-aggregator", ""))

    def _resource(
        self, user: User, match: re.Match[str], query: dict[str, list[str]], url: Any
    ) -> None:
        namespace, resource, name = match["ns"], match["resource"], match["name"]
        verb = (
            "get" if name else ("watch" if query.get("watch", [""])[0] in ("1", "true") else "list")
        )
        if not self.server.cluster.aggregated:
            return self._json(
                404, _status(404, "NotFound", "the server could not find the requested resource")
            )
        if not self.server.cluster.allows(user, verb, GROUP, resource, namespace):
            message = forbidden(user, verb, GROUP, resource, namespace)
            details = {"group": GROUP, "kind": resource, **({"name": name} if name else {})}
            return self._json(403, {**_status(403, "Forbidden", message), "details": details})
        self._forward(url.path + (f"?{url.query}" if url.query else ""), user)

    def _forward(self, path: str, user: User) -> None:
        headers = [("X-Remote-User", user.name), ("X-Remote-Group", "system:authenticated"),
                   *(("X-Remote-Group", g) for g in user.groups)]  # fmt: skip
        if accept := self.headers.get("Accept"):
            headers.append(("Accept", accept))
        with (
            httpx.Client(
                verify=self.server.upstream_context, timeout=httpx.Timeout(10, read=None)
            ) as client,
            client.stream("GET", self.server.upstream + path, headers=headers) as answer,
        ):
            self.send_response(answer.status_code)
            self.send_header("Content-Type", answer.headers.get("content-type", "application/json"))
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            try:
                for chunk in answer.iter_raw():
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                    self.wfile.flush()
                self.wfile.write(b"0\r\n\r\n")
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True

    def _json(self, code: int, body: dict[str, Any]) -> None:
        payload = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, cluster: Cluster, upstream: str, upstream_context: ssl.SSLContext) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.cluster = cluster
        self.upstream = upstream
        self.upstream_context = upstream_context


@dataclass
class Running:
    url: str
    ca: trustme.CA
    cluster: Cluster

    def kubeconfigs(self, directory: Path, namespace: str | None = None) -> dict[str, str]:
        """A kubeconfig file for each user of the cluster, by user name."""
        return {
            user.name: str(self.kubeconfig(directory / user.name, user, namespace))
            for user in self.cluster.users
        }

    def kubeconfig(self, path: Path, user: User, namespace: str | None = None) -> Path:
        return write_kubeconfig(
            path, self.url, user, ca_pem=self.ca.cert_pem.bytes(), namespace=namespace
        )


def write_kubeconfig(
    path: Path,
    server: str,
    user: User,
    *,
    ca_pem: bytes | None = None,
    namespace: str | None = None,
) -> Path:
    """A kubeconfig whose current context is `user` on the stand-in at `server`."""
    context: dict[str, Any] = {"cluster": "standin", "user": user.name}
    if namespace:
        context["namespace"] = namespace
    cluster: dict[str, Any] = {"server": server}
    if ca_pem is not None:
        cluster["certificate-authority-data"] = _b64(ca_pem)
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "standin", "cluster": cluster}],
        "users": [{"name": user.name, "user": {"token": user.token}}],
        "contexts": [{"name": "standin", "context": context}],
        "current-context": "standin",
    }
    path.write_text(yaml.safe_dump(config))
    return path


def _b64(data: bytes) -> str:
    import base64

    return base64.b64encode(data).decode()


@contextmanager
def serving(cluster: Cluster, collector: CollectorProcess, proxy: FrontProxy) -> Iterator[Running]:
    ca = trustme.CA()
    server = _Server(
        cluster, f"https://127.0.0.1:{collector.webhook_port}", proxy.context(collector)
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
    )
    thread.start()
    try:
        yield Running(f"https://127.0.0.1:{server.server_address[1]}", ca, cluster)
    finally:
        server.shutdown()
        server.server_close()
        thread.join()

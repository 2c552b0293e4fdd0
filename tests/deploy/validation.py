"""The kube-apiserver's validation of the fields the collector writes, with its own messages.

A stand-in that stores whatever it is sent proves nothing: a webhook path the real apiserver
refuses (`segment[1]: a lowercase RFC 1123 subdomain ...`) crashlooped every default install
while the tests passed. These rules are k8s.io/apiserver's `ValidateWebhookClientConfig`
(`ValidateWebhookURL`, `ValidateWebhookService`), the API machinery's base64 decoding of
`[]byte` fields, and `ValidateSecret`'s key and size rules, checked against a real
kube-apiserver v1.32 (`kubectl apply --dry-run=server`). One rule is stricter than the
apiserver: a `caBundle` must hold PEM certificates. The apiserver stores any bytes there, and
then every call to the webhook fails (`unable to load root certificates`): refused here, that
failure shows in a test instead of in a cluster.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any
from urllib.parse import urlsplit

from cryptography import x509

Object = dict[str, Any]

DNS1123_SUBDOMAIN = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*"
DNS1123_SUBDOMAIN_MESSAGE = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'example.com', regex "
    f"used for validation is '{DNS1123_SUBDOMAIN}')"
)
CONFIG_KEY = re.compile(r"[-._a-zA-Z0-9]+")
SECRET_MAX_BYTES = 1024 * 1024


class Invalid(Exception):
    """The object is refused: `status` is the apiserver's code, the message its own wording."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def webhook_configuration_errors(configuration: Object) -> list[str]:
    """A ValidatingWebhookConfiguration's field errors (`caBundle` decoded: see `decoded`)."""
    errors: list[str] = []
    for index, hook in enumerate(configuration.get("webhooks") or []):
        at = f"webhooks[{index}].clientConfig"
        config = hook.get("clientConfig") or {}
        errors += _ca_bundle_errors(config.get("caBundle"), f"{at}.caBundle")
        url, service = config.get("url"), config.get("service")
        if (url is None) == (service is None):
            errors.append(f"{at}: Required value: exactly one of url or service is required")
        elif url is not None:
            errors += webhook_url_errors(url, f"{at}.url")
        else:
            errors += webhook_service_errors(service, f"{at}.service")
    return errors


def apiservice_errors(apiservice: Object) -> list[str]:
    spec = apiservice.get("spec") or {}
    errors = _ca_bundle_errors(spec.get("caBundle"), "spec.caBundle")
    if spec.get("insecureSkipTLSVerify") and spec.get("caBundle"):
        errors.append(
            "spec.insecureSkipTLSVerify: Invalid value: true: may not be true if caBundle is present"
        )
    return errors


def secret_errors(secret: Object) -> list[str]:
    data = secret.get("data") or {}
    errors = [
        f"data[{key}]: Invalid value: {_quoted(key)}: a valid config key must consist of alphanumeric "
        "characters, '-', '_' or '.'"
        for key in data
        if not CONFIG_KEY.fullmatch(key)
    ]
    size = sum(len(decoded(value)) for value in data.values())
    if size > SECRET_MAX_BYTES:
        errors.append(f"data: Too long: must have at most {SECRET_MAX_BYTES} bytes")
    return errors


def webhook_url_errors(url: str, at: str) -> list[str]:
    parts = urlsplit(url)
    desired = "desired format: https://host[/path]"
    if parts.scheme != "https":
        return [
            f"{at}: Invalid value: {_quoted(parts.scheme)}: 'https' is the only allowed URL scheme; {desired}"
        ]
    if not parts.hostname:
        return [f'{at}: Invalid value: "": host must be specified; {desired}']
    errors = []
    if parts.username is not None:
        errors.append(
            f"{at}: Invalid value: {_quoted(parts.username)}: user information is not permitted in the URL"
        )
    if parts.fragment:
        errors.append(
            f"{at}: Invalid value: {_quoted(parts.fragment)}: fragments are not permitted in the URL"
        )
    if parts.query:
        errors.append(
            f"{at}: Invalid value: {_quoted(parts.query)}: query parameters are not permitted in the URL"
        )
    return errors


def webhook_service_errors(service: Object, at: str) -> list[str]:
    errors = [
        f"{at}.{key}: Required value: service {key} is required"
        for key in ("name", "namespace")
        if not service.get(key)
    ]
    port = service.get("port", 443)
    if not 1 <= port <= 65535:
        errors.append(
            f"{at}.port: Invalid value: {port}: port is not valid: must be between 1 and 65535, inclusive"
        )
    path = service.get("path")
    if path is not None:
        errors += [
            f"{at}.path: Invalid value: {_quoted(path)}: {problem}"
            for problem in _path_problems(path)
        ]
    return errors


def _path_problems(path: str) -> list[str]:
    if path in ("", "/"):
        return []
    if path == "//":
        return ["segment[0] may not be empty"]
    if not path.startswith("/"):
        return ["must start with a '/'"]
    segments = path[1:].removesuffix("/").split("/")
    return [
        f"segment[{index}] may not be empty"
        if not segment
        else f"segment[{index}]: {DNS1123_SUBDOMAIN_MESSAGE}"
        for index, segment in enumerate(segments)
        if not segment or len(segment) > 253 or not re.fullmatch(DNS1123_SUBDOMAIN, segment)
    ]


def _quoted(value: str) -> str:
    """As Go's %q writes it, for the ASCII these fields hold."""
    return json.dumps(value)


def decoded(value: str) -> bytes:
    """A `[]byte` field as the API machinery decodes it: refused (400) unless it is base64."""
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise Invalid(400, "illegal base64 data at input byte 0") from None


def _ca_bundle_errors(value: str | None, at: str) -> list[str]:
    if not value:
        return []
    try:
        x509.load_pem_x509_certificates(decoded(value))
    except ValueError:
        return [f"{at}: Invalid value: unable to load root certificates: no PEM certificates"]
    return []

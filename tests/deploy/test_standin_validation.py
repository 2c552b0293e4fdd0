"""The stand-in apiserver refuses what a real kube-apiserver v1.32 refuses, in its words.

Each case was sent to a real apiserver (`kubectl apply --dry-run=server`); the expected text is
the start of its answer.
"""

from __future__ import annotations

import base64
from typing import Any

import pytest
import trustme

from tests.deploy.validation import (
    Invalid,
    apiservice_errors,
    secret_errors,
    webhook_configuration_errors,
)


def configuration(client_config: dict[str, Any]) -> dict[str, Any]:
    return {"webhooks": [{"name": "probe.example.com", "clientConfig": client_config}]}


def service(path: str | None, port: int = 443) -> dict[str, Any]:
    return {"service": {"name": "s", "namespace": "ns", "path": path, "port": port}}


PEM = base64.b64encode(trustme.CA().cert_pem.bytes()).decode()


@pytest.mark.parametrize(
    ("client_config", "refusal"),
    [
        (service("/validate/AbC_d"), 'path: Invalid value: "/validate/AbC_d": segment[1]: a lowercase RFC 1123 subdomain'),
        (service("validate"), 'path: Invalid value: "validate": must start with a \'/\''),
        (service("/validate//x"), "segment[1] may not be empty"),
        (service("//"), "segment[0] may not be empty"),
        (service("/validate", port=0), "port: Invalid value: 0: port is not valid"),
        ({**service("/validate"), "url": "https://a/"}, "exactly one of url or service is required"),
        ({"url": "http://a.example/validate"}, "'https' is the only allowed URL scheme"),
        ({"url": "https://a.example/validate?x=1"}, "query parameters are not permitted"),
        ({"url": "https://a.example/validate#x"}, "fragments are not permitted"),
        ({"url": "https://u@a.example/validate"}, "user information is not permitted"),
        ({"url": "https:///validate"}, "host must be specified"),
    ],
)  # fmt: skip
def test_webhook_client_configs_the_apiserver_refuses(
    client_config: dict[str, Any], refusal: str
) -> None:
    (error,) = webhook_configuration_errors(configuration(client_config))
    assert refusal in error


@pytest.mark.parametrize(
    "client_config",
    [
        service("/validate/abc"),
        service("/validate/x/"),
        service("/"),
        service(""),
        service(None),
        {"url": "https://a.example/Validate/AbC_%41"},  # a URL's path is not checked
        {**service("/validate/9f3-a.b"), "caBundle": PEM},
    ],
)
def test_webhook_client_configs_the_apiserver_takes(client_config: dict[str, Any]) -> None:
    assert webhook_configuration_errors(configuration(client_config)) == []


def test_a_ca_bundle_that_is_not_base64_is_a_bad_request() -> None:
    with pytest.raises(Invalid) as refused:
        webhook_configuration_errors(configuration({**service("/"), "caBundle": "!!"}))
    assert refused.value.status == 400
    with pytest.raises(Invalid):
        apiservice_errors({"spec": {"caBundle": "!!"}})


def test_a_ca_bundle_without_certificates_is_refused_before_any_call_fails_on_it() -> None:
    not_pem = base64.b64encode(b"not a cert").decode()
    (error,) = webhook_configuration_errors(configuration({**service("/"), "caBundle": not_pem}))
    assert "unable to load root certificates" in error
    assert apiservice_errors({"spec": {"caBundle": not_pem}})


def test_an_apiservice_cannot_skip_verification_and_name_a_ca() -> None:
    (error,) = apiservice_errors({"spec": {"caBundle": PEM, "insecureSkipTLSVerify": True}})
    assert "may not be true if caBundle is present" in error


def test_secret_keys_and_size() -> None:
    assert secret_errors({"data": {"tls.crt": PEM, "webhook-token": "YQ=="}}) == []
    assert secret_errors({"data": {"a/b": "YQ=="}})
    big = base64.b64encode(b"x" * (1024 * 1024 + 1)).decode()
    assert secret_errors({"data": {"big": big}}) == [
        "data: Too long: must have at most 1048576 bytes"
    ]

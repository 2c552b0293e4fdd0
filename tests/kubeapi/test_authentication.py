"""Only the apiserver's front proxy is served: its client certificate, then the user headers."""

from __future__ import annotations

import datetime as dt
import ssl

import httpx
import pytest
import trustme
from multidict import CIMultiDict, CIMultiDictProxy

from logistis.collector.trust.frontproxy import (
    ConfigurationError,
    RequestHeaderAuth,
    RequestHeaderConfig,
    Unauthenticated,
    authenticate,
    config_from_configmap,
)
from tests.kubeapi.conftest import GV
from tests.support.collector import post_reviews, run_collector_command
from tests.support.fixtures import bodies


def _status(response: httpx.Response) -> dict:
    body = response.json()
    assert body["kind"] == "Status"
    assert body["apiVersion"] == "v1"
    assert body["code"] == response.status_code
    return body


def test_the_front_proxy_certificate_with_a_user_is_served(kube_collector, front_proxy):
    with front_proxy.client(kube_collector, "alice", ["dev-team"]) as client:
        response = client.get(f"{GV}/namespaces/team-a/changes")
    assert response.status_code == 200
    assert response.json()["kind"] == "ChangeList"


@pytest.mark.parametrize("path", ["/apis", f"{GV}/changes", "/openapi/v2", "/openapi/v3"])
def test_no_client_certificate_is_401(kube_collector, path):
    headers = {"X-Remote-User": "system:admin", "X-Remote-Group": "system:masters"}
    with httpx.Client(verify=kube_collector.ssl_context(), timeout=10) as client:
        response = client.get(
            f"https://127.0.0.1:{kube_collector.webhook_port}{path}", headers=headers
        )
    assert response.status_code == 401
    assert _status(response)["reason"] == "Unauthorized"


def test_a_certificate_from_another_ca_never_gets_an_answer(kube_collector, front_proxy):
    stranger = trustme.CA().issue_cert("front-proxy-client", common_name="front-proxy-client")
    context = front_proxy.context(kube_collector, stranger)
    with (
        front_proxy.client(kube_collector, context=context) as client,
        pytest.raises(httpx.TransportError),
    ):
        # The handshake refuses a certificate no trusted CA signed (alert unknown_ca).
        client.get(f"{GV}/changes")


def test_a_common_name_not_allowed_is_401(kube_collector, front_proxy):
    other = front_proxy.ca.issue_cert("someone", common_name="someone")
    context = front_proxy.context(kube_collector, other)
    with front_proxy.client(kube_collector, context=context) as client:
        response = client.get(f"{GV}/changes")
    assert response.status_code == 401
    assert "not an allowed name" in _status(response)["message"]


def test_the_certificate_without_a_user_header_is_401(kube_collector, front_proxy):
    with httpx.Client(verify=front_proxy.context(kube_collector), timeout=10) as client:
        response = client.get(f"https://127.0.0.1:{kube_collector.webhook_port}{GV}/changes")
    assert response.status_code == 401


def test_writes_are_refused_as_a_status(kube_collector, front_proxy):
    with front_proxy.client(kube_collector) as client:
        response = client.delete(f"{GV}/namespaces/team-a/changes/1")
    assert response.status_code == 405
    assert _status(response)["reason"] == "MethodNotAllowed"


def test_the_webhook_keeps_working_without_a_certificate(kube_collector):
    review = bodies()[0]
    review["request"]["uid"] = "0f0e0d0c-0000-4000-8000-000000000001"
    (response,) = post_reviews(kube_collector, [review])
    assert response.status_code == 200
    assert response.json()["response"]["allowed"] is True


def test_the_webhook_keeps_working_with_the_proxy_certificate(kube_collector, front_proxy):
    review = bodies()[1]
    review["request"]["uid"] = "0f0e0d0c-0000-4000-8000-000000000002"
    with httpx.Client(verify=front_proxy.context(kube_collector), timeout=10) as client:
        response = client.post(kube_collector.webhook_url, json=review)
    assert response.json()["response"]["allowed"] is True


def test_a_collector_without_the_kube_api_serves_no_apis(collector):
    with httpx.Client(verify=collector.ssl_context(), timeout=10) as client:
        response = client.get(f"https://127.0.0.1:{collector.webhook_port}/apis")
    assert response.status_code == 404


# The decision itself, as a pure function of certificate and headers.


def _der(certificate: trustme.LeafCert) -> bytes:
    pem = certificate.cert_chain_pems[0].bytes()
    return ssl.PEM_cert_to_DER_cert(pem.decode())


def _config(ca: trustme.CA, *names: str) -> RequestHeaderConfig:
    return RequestHeaderConfig(ca_pem=ca.cert_pem.bytes(), allowed_names=names)


def test_user_groups_and_extra_come_from_the_configured_headers():
    ca = trustme.CA()
    leaf = ca.issue_cert("proxy", common_name="proxy")
    config = RequestHeaderConfig(
        ca_pem=ca.cert_pem.bytes(),
        allowed_names=("proxy",),
        username_headers=("X-Remote-User",),
        group_headers=("X-Remote-Group",),
        extra_prefixes=("X-Remote-Extra-",),
    )
    headers = CIMultiDictProxy(
        CIMultiDict(
            [
                ("X-Remote-User", "alice"),
                ("X-Remote-Group", "dev-team"),
                ("X-Remote-Group", "system:authenticated"),
                ("X-Remote-Extra-Scopes%2FKind", "a"),
                ("X-Remote-Extra-Scopes%2FKind", "b"),
            ]
        )
    )
    user = authenticate(config, _der(leaf), headers)
    assert user.name == "alice"
    assert user.groups == ("dev-team", "system:authenticated")
    assert user.extra == (("scopes/kind", ("a", "b")),)


def test_an_empty_allowed_list_accepts_any_name_the_ca_signed():
    ca = trustme.CA()
    leaf = ca.issue_cert("anything", common_name="anything")
    assert authenticate(_config(ca), _der(leaf), {"X-Remote-User": "bob"}).name == "bob"


def test_an_expired_proxy_certificate_is_refused():
    ca = trustme.CA()
    past = dt.datetime.now(dt.UTC) - dt.timedelta(days=10)
    leaf = ca.issue_cert(
        "p", common_name="p", not_before=past, not_after=past + dt.timedelta(days=1)
    )
    with pytest.raises(Unauthenticated, match="expired"):
        authenticate(_config(ca, "p"), _der(leaf), {"X-Remote-User": "bob"})


def test_the_configmap_as_the_apiserver_writes_it():
    ca = trustme.CA()
    config = config_from_configmap(
        {
            "client-ca-file": "ignored",
            "requestheader-allowed-names": '["front-proxy-client"]',
            "requestheader-client-ca-file": ca.cert_pem.bytes().decode(),
            "requestheader-extra-headers-prefix": '["X-Remote-Extra-"]',
            "requestheader-group-headers": '["X-Remote-Group"]',
            "requestheader-username-headers": '["X-Remote-User"]',
        }
    )
    assert config.allowed_names == ("front-proxy-client",)
    assert len(config.authorities) == 1


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, "no requestheader-client-ca-file"),
        ({"requestheader-client-ca-file": "not pem"}, "not PEM|no certificate"),
        (
            {
                "requestheader-client-ca-file": trustme.CA().cert_pem.bytes().decode(),
                "requestheader-allowed-names": "front-proxy-client",
            },
            "not a JSON list",
        ),
    ],
)
def test_a_configmap_that_makes_no_sense_is_a_clear_error(data, message):
    with pytest.raises(ConfigurationError, match=message):
        config_from_configmap(data)


async def test_a_new_ca_in_the_source_replaces_the_old_one():
    old, new = trustme.CA(), trustme.CA()
    current = {"ca": old}
    auth = RequestHeaderAuth(lambda: _config(current["ca"], "p"))
    await auth.start()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    auth.trust(context)
    old_leaf, new_leaf = (ca.issue_cert("p", common_name="p") for ca in (old, new))
    headers = {"X-Remote-User": "alice"}
    assert authenticate(auth.config, _der(old_leaf), headers).name == "alice"
    current["ca"] = new
    assert await auth.reload() is True
    assert await auth.reload() is False
    assert authenticate(auth.config, _der(new_leaf), headers).name == "alice"
    with pytest.raises(Unauthenticated, match="not signed by the request-header CA"):
        authenticate(auth.config, _der(old_leaf), headers)
    # The handshake now accepts the new CA's certificates too.
    assert context.cert_store_stats()["x509_ca"] == 2


async def test_a_source_that_fails_later_keeps_the_last_good_configuration():
    ca = trustme.CA()
    calls = {"n": 0}

    def source() -> RequestHeaderConfig:
        calls["n"] += 1
        if calls["n"] > 1:
            raise ConfigurationError("cannot read ConfigMap")
        return _config(ca)

    auth = RequestHeaderAuth(source)
    await auth.start()
    assert await auth.reload() is False
    assert auth.config is not None


def test_the_collector_refuses_to_start_with_an_unreadable_ca(tmp_path):
    result = run_collector_command(
        ["--data-dir", str(tmp_path), "--requestheader-client-ca-file", str(tmp_path / "none.crt")]
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines()[-1].startswith("logistis-collector: request-header CA")

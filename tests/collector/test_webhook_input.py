"""Bad input to the webhook: a 4xx with a JSON error, nothing stored, still serving."""

from __future__ import annotations

import os

import pytest

from tests.collector.test_recording import all_events
from tests.support.collector import run_collector_command
from tests.support.fixtures import load


def review_without(key: str) -> dict:
    body = load(45)["body"]
    del body["request"][key]
    return body


def with_request(**changes) -> dict:
    body = load(45)["body"]
    body["request"].update(changes)
    return body


BAD_BODIES = {
    "not json": (b"{not json", 400),
    "empty": (b"", 400),
    "a list": (b"[]", 400),
    "no request": (b'{"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1"}', 400),
    "wrong kind": (b'{"kind":"Pod","apiVersion":"admission.k8s.io/v1","request":{}}', 400),
    "invalid utf-8": (b'{"kind":"\xff\xfe"}', 400),
}


@pytest.mark.parametrize("name", BAD_BODIES)
def test_malformed_bodies(collector, name):
    content, status = BAD_BODIES[name]
    with collector.webhook_client() as client:
        answer = client.post(
            collector.webhook_url, content=content, headers={"Content-Type": "application/json"}
        )
    assert answer.status_code == status
    assert answer.json()["error"]
    assert all_events(collector) == []


@pytest.mark.parametrize(
    "body",
    [
        {**load(45)["body"], "apiVersion": "admission.k8s.io/v2"},
        review_without("uid"),
        review_without("userInfo"),
        review_without("resource"),
        with_request(operation="PATCH"),
        with_request(object="a string"),
        with_request(userInfo={"username": 42}),
        with_request(dryRun="yes"),
    ],
    ids=["apiVersion", "uid", "userInfo", "resource", "operation", "object", "username", "dryRun"],
)
def test_reviews_with_wrong_fields(collector, body):
    with collector.webhook_client() as client:
        answer = client.post(collector.webhook_url, json=body)
        assert answer.status_code == 400
        assert "request" in answer.json()["detail"] or "apiVersion" in answer.json()["detail"]
        # The collector is still serving afterwards.
        good = client.post(collector.webhook_url, json=load(45)["body"])
    assert good.json()["response"]["allowed"] is True
    assert len(all_events(collector)) == 1


def test_wrong_content_type(collector):
    with collector.webhook_client() as client:
        answer = client.post(
            collector.webhook_url, content=b"{}", headers={"Content-Type": "text/plain"}
        )
    assert answer.status_code == 415
    assert answer.json()["error"].startswith("Content-Type")


def test_oversized_body_is_a_json_413(tmp_path):
    from tests.support.collector import CollectorProcess

    with CollectorProcess(tmp_path / "data", "--max-body-size", "4KiB") as collector:
        body = load(45)["body"]
        body["request"]["object"]["metadata"]["annotations"] = {"big": "x" * 8000}
        with collector.webhook_client() as client:
            answer = client.post(collector.webhook_url, json=body)
        assert answer.status_code == 413
        assert answer.json()["error"]
        assert all_events(collector) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--webhook-listen", "nowhere"], "is not HOST:PORT"),
        (["--max-age", "forever"], "not a duration"),
        (["--max-size", "lots"], "not a size"),
        (["--tls-cert", "/x.crt"], "--tls-cert and --tls-key go together"),
        (["--api-listen", "0.0.0.0:0"], "--allow-public-api"),
        (["--config", "/does/not/exist.yaml"], "No such file"),
        (["--exclude-user", "re:("], "exclude"),
    ],
)
def test_bad_flags_are_one_readable_line(tmp_path, args, message):
    # The last --webhook-listen wins, so the first one only keeps a good run off port 8443.
    result = run_collector_command(
        ["--data-dir", str(tmp_path), "--webhook-listen", "127.0.0.1:0", *args]
    )
    assert result.returncode == 2
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr


def test_foreign_database_is_refused_and_left_alone(tmp_path):
    import sqlite3

    data = tmp_path / "data"
    data.mkdir()
    foreign = data / "logistis.db"
    with sqlite3.connect(foreign) as connection:
        connection.execute("CREATE TABLE invoices (id INTEGER)")
    before = foreign.read_bytes()
    result = run_collector_command(
        ["--data-dir", str(data), "--webhook-listen", "127.0.0.1:0", "--api-listen", "127.0.0.1:0"]
    )
    assert result.returncode == 1
    assert str(foreign) in result.stderr
    assert "not a logistis database" in result.stderr
    assert foreign.read_bytes() == before


def test_help_documents_every_flag_with_its_variable():
    result = run_collector_command(["--help"])
    assert result.returncode == 0
    for flag, env in [("--data-dir", "LOGISTIS_DATA_DIR"), ("--max-age", "LOGISTIS_MAX_AGE"),
                      ("--exclude-user", "LOGISTIS_EXCLUDE_USER")]:  # fmt: skip
        assert flag in result.stdout
        assert env in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--tls-cert", "/nope.crt", "--tls-key", "/nope.key"],
            "cannot serve certificate /nope.crt",
        ),
        (["--tls-self-managed"], "self-managed TLS runs only in a pod"),
    ],
)
def test_tls_that_cannot_start_is_one_readable_line(tmp_path, args, message):
    result = run_collector_command(
        [
            "--data-dir",
            str(tmp_path),
            "--webhook-listen",
            "127.0.0.1:0",
            "--api-listen",
            "127.0.0.1:0",
            *args,
        ],
        env={k: v for k, v in os.environ.items() if not k.startswith("KUBERNETES_")},
    )
    assert result.returncode == 1
    assert message in result.stderr
    assert "Traceback" not in result.stderr

"""Notifications through real collectors on both stores to real receivers on 127.0.0.1: what
rules match reaches each sink once (webhook, Slack, CloudEvents), what they do not never; a
receiver's outage, its Retry-After, a collector killed with items outstanding; two collectors
on one PostgreSQL database; Secret values never in a body; a burst digested."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.collector import CollectorProcess, post_reviews, wait_for
from tests.support.notify import configmap_update, secret_update, write_config
from tests.support.postgres import PostgresServer
from tests.support.receiver import Answer, Receiver
from tests.support.stores import BACKENDS, store_env


@pytest.fixture(params=BACKENDS)
def store_env_of(request: pytest.FixtureRequest) -> dict[str, str] | None:
    """The environment pointing a collector at a fresh database of the store, None for the
    SQLite file in its data directory."""
    if request.param == "sqlite":
        return None
    server: PostgresServer = request.getfixturevalue("postgres")
    return store_env(server.create_database())


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as running:
        yield running


def webhook_sink(receiver: Receiver, **extra: object) -> dict[str, object]:
    return {"name": "ops", "type": "webhook", "url": receiver.url("/ops"), **extra}


def collector_with(
    tmp_path: Path,
    sinks: list[dict[str, object]],
    rules: list[dict[str, object]],
    env: dict[str, str] | None,
    name: str = "data",
    **extra: object,
) -> CollectorProcess:
    config = write_config(tmp_path / f"{name}.yaml", sinks, rules, **extra)
    return CollectorProcess(tmp_path / name, "--config", str(config), env=env)


def event_ids(received: list) -> list[int]:
    return [r.json()["event"]["id"] for r in received]


def test_matching_events_reach_each_sink_once_and_others_never(
    tmp_path: Path, receiver: Receiver, store_env_of: dict[str, str] | None
) -> None:
    key = tmp_path / "ops-key"
    key.write_text("sign-with-this\n")
    sinks = [
        webhook_sink(receiver, keyFile=str(key)),
        {"name": "chat", "type": "slack", "url": receiver.url("/chat")},
        {
            "name": "bus",
            "type": "cloudevents",
            "url": receiver.url("/bus"),
            "source": "/logistis/test",
        },
    ]
    rules = [{"name": "prod-edits", "namespaces": ["prod-*"], "operations": ["UPDATE"],
              "actors": ["person"], "sinks": ["ops", "chat", "bus"]}]  # fmt: skip
    matching = [configmap_update("prod-eu", "settings", v) for v in range(1, 4)]
    others = [configmap_update("dev", "settings", 1), configmap_update("staging-eu", "x", 2)]
    with collector_with(tmp_path, sinks, rules, store_env_of) as collector:
        assert all(r.status_code == 200 for r in post_reviews(collector, [*others, *matching]))
        assert wait_for(lambda: len(receiver.taken()) >= 9, 15), receiver.received
        metrics = collector.client().get("/metrics").text
    assert len(receiver.received) == 9
    uids = {m["request"]["uid"] for m in matching}
    ops = receiver.taken("/ops")
    assert {r.json()["event"]["uid"] for r in ops} == uids
    assert len({r.headers["Idempotency-Key"] for r in ops}) == 3
    for r in ops:
        signed = hmac.new(b"sign-with-this", r.body, hashlib.sha256).hexdigest()
        assert r.headers["X-Logistis-Signature"] == f"sha256={signed}"
        assert r.json()["event"]["changes"] == [{"op": "replace", "path": "/data/value"}]
    chat = [r.json()["text"] for r in receiver.taken("/chat")]
    assert len(chat) == 3
    assert all(
        "*alice* UPDATE `ConfigMap prod-eu/settings`" in t and "`/data/value`" in t for t in chat
    )
    assert any('/data/value: "1" -> "2"' in t for t in chat)
    bus = receiver.taken("/bus")
    assert {r.headers["ce-type"] for r in bus} == {"io.logistis.change.v1"}
    assert {r.headers["ce-source"] for r in bus} == {"/logistis/test"}
    assert len({r.headers["ce-id"] for r in bus}) == 3
    assert {r.json()["event"]["uid"] for r in bus} == uids
    assert 'logistis_notify_sent_total{sink="ops"} 3.0' in metrics

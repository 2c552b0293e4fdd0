"""Notifications through real collectors on both stores to real receivers on 127.0.0.1: what
rules match reaches each sink once (webhook, Slack, CloudEvents), what they do not never; a
receiver's outage, its Retry-After, a collector killed with items outstanding; two collectors
on one PostgreSQL database; Secret values never in a body; a burst digested."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.support.collector import (
    CollectorProcess,
    free_port,
    post_reviews,
    run_collector_command,
    wait_for,
)
from tests.support.notify import configmap_update, secret_update, write_config
from tests.support.postgres import PostgresServer
from tests.support.receiver import Answer, Received, Receiver
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


def covered(received: list[Received]) -> Counter[int]:
    """How many times each event was taken."""
    return Counter(r.json()["event"]["id"] for r in received)


def test_a_receiver_answering_503_for_a_while_gets_each_event_once(
    tmp_path: Path, receiver: Receiver
) -> None:
    # Out from the first request on, for a second and a half.
    receiver.script = lambda r: Answer(503 if r.at < receiver.received[0].at + 1.5 else 200)
    rules = [{"name": "all", "namespaces": ["prod-*"], "sinks": ["ops"]}]
    with collector_with(tmp_path, [webhook_sink(receiver)], rules, None) as collector:
        post_reviews(collector, [configmap_update("prod-eu", "c", v) for v in range(1, 6)])
        assert wait_for(lambda: len(receiver.taken()) >= 5, 15)
        time.sleep(0.5)
    assert len(receiver.received) > 5, "tried during the outage"
    assert sorted(covered(receiver.taken()).values()) == [1] * 5


def test_429_with_retry_after_is_waited_out(tmp_path: Path, receiver: Receiver) -> None:
    seen: set[str] = set()

    def answer(received: Received) -> Answer:
        key = received.headers["Idempotency-Key"]
        if key in seen:
            return Answer(200)
        seen.add(key)
        return Answer(429, {"Retry-After": "1"})

    receiver.script = answer
    rules = [{"name": "all", "namespaces": ["prod-*"], "sinks": ["ops"]}]
    with collector_with(tmp_path, [webhook_sink(receiver)], rules, None) as collector:
        post_reviews(collector, [configmap_update("prod-eu", "c", v) for v in range(1, 3)])
        assert wait_for(lambda: len(receiver.taken()) >= 2, 15)
    by_key: dict[str, list[float]] = {}
    for r in receiver.received:
        by_key.setdefault(r.headers["Idempotency-Key"], []).append(r.at)
    assert len(by_key) == 2
    # Without Retry-After the first retry would come after 50-100 ms (retryFirst 100ms).
    assert all(times[1] - times[0] >= 0.95 for times in by_key.values()), by_key


def test_a_collector_killed_with_items_outstanding_delivers_them_after_restart(
    tmp_path: Path, receiver: Receiver, store_env_of: dict[str, str] | None
) -> None:
    # The receiver takes its time to answer: a kill finds items in flight.
    receiver.script = lambda r: Answer(200, delay=0.5)
    rules = [{"name": "all", "namespaces": ["prod-*"], "sinks": ["ops"]}]
    collector = collector_with(tmp_path, [webhook_sink(receiver)], rules, store_env_of)
    reviews = [configmap_update("prod-eu", f"c{n}", 1) for n in range(8)]
    with collector:
        post_reviews(collector, reviews)
        assert wait_for(lambda: len(receiver.received) >= 1, 10)
        collector.kill()
        killed_at = time.time()
        collector.start()
        assert wait_for(lambda: len(covered(receiver.taken())) == 8, 20), receiver.received
        time.sleep(0.5)
    receptions: dict[int, list[Received]] = {}
    for r in receiver.received:
        receptions.setdefault(r.json()["event"]["id"], []).append(r)
    for taken in receptions.values():
        if len(taken) > 1:
            # Only an item in flight at the kill comes again, with the same key.
            assert len({r.headers["Idempotency-Key"] for r in taken}) == 1
            assert taken[0].at < killed_at
            assert len(taken) == 2


def test_two_collectors_on_one_postgresql_database_send_each_event_once(
    tmp_path: Path, receiver: Receiver, postgres: PostgresServer
) -> None:
    env = store_env(postgres.create_database())
    rules = [{"name": "all", "namespaces": ["prod-*"], "sinks": ["ops"]}]
    sinks = [webhook_sink(receiver)]
    first = collector_with(tmp_path, sinks, rules, env, name="pod-0")
    second = collector_with(tmp_path, sinks, rules, env, name="pod-1")
    with first, second:
        for n in range(10):
            post_reviews(first if n % 2 else second, [configmap_update("prod-eu", f"c{n}", 1)])
        assert wait_for(lambda: len(covered(receiver.taken())) == 10, 15)
        time.sleep(1.0)
    assert sorted(covered(receiver.received).values()) == [1] * 10


def test_a_secrets_values_are_never_in_a_body(tmp_path: Path, receiver: Receiver) -> None:
    canary = "canary-Zq81xPw3"
    sinks = [
        webhook_sink(receiver),
        {"name": "chat", "type": "slack", "url": receiver.url("/chat")},
        {"name": "bus", "type": "cloudevents", "url": receiver.url("/bus")},
    ]
    rules = [{"name": "secrets", "kinds": ["Secret"], "sinks": ["ops", "chat", "bus"]}]
    with collector_with(tmp_path, sinks, rules, None) as collector:
        post_reviews(collector, [secret_update("prod-eu", canary)])
        assert wait_for(lambda: len(receiver.taken()) >= 3, 15)
    chat = receiver.taken("/chat")[0].json()["text"]
    assert "/data/token" in chat, "the change is told, its value is not"
    secret_forms = (canary, base64.b64encode(canary.encode()).decode())
    for r in receiver.received:
        seen = r.body.decode() + str(r.headers)
        assert not any(form in seen for form in secret_forms)
        assert "last-applied-configuration" not in seen


def test_a_burst_reads_as_a_digest_in_chat(tmp_path: Path, receiver: Receiver) -> None:
    sink = {"name": "chat", "type": "slack", "url": receiver.url("/chat"),
            "digest": {"events": 3, "window": "2s"}}  # fmt: skip
    rules = [{"name": "prod", "namespaces": ["prod-*"], "sinks": ["chat"]}]
    with collector_with(tmp_path, [sink], rules, None) as collector:
        post_reviews(collector, [configmap_update("prod-eu", "c", v) for v in range(1, 16)])

        def told() -> int:
            texts = [r.json()["text"] for r in receiver.taken()]
            alone = sum(t.startswith("*alice* UPDATE") for t in texts)
            return alone + sum(int(n) for n in DIGESTED.findall("\n".join(texts)))

        assert wait_for(lambda: told() == 15, 15), [r.json() for r in receiver.received]
        time.sleep(0.5)
    texts = [r.json()["text"] for r in receiver.taken()]
    digests = [t for t in texts if DIGESTED.search(t)]
    assert digests
    assert told() == 15
    assert len(texts) - len(digests) <= 6, "at most three alone per window of two seconds"
    assert "in prod-eu in" in digests[0]
    assert "… and" in digests[0]


DIGESTED = re.compile(r"\*alice made (\d+) changes in prod-eu")


def test_a_dead_sink_leaves_readyz_alone_and_shows_in_the_metrics(tmp_path: Path) -> None:
    dead = {"name": "dead", "type": "webhook", "url": f"http://127.0.0.1:{free_port()}/"}
    rules = [{"name": "all", "namespaces": ["prod-*"], "sinks": ["dead"]}]
    with collector_with(tmp_path, [dead], rules, None) as collector, collector.client() as api:
        post_reviews(collector, [configmap_update("prod-eu", "c", 1)])

        def metric(name: str) -> float:
            line = next(x for x in api.get("/metrics").text.splitlines() if x.startswith(name))
            return float(line.rsplit(" ", 1)[1])

        assert wait_for(lambda: metric('logistis_notify_retrying{sink="dead"}') == 1, 10)
        assert api.get("/readyz").status_code == 200
        assert wait_for(
            lambda: metric('logistis_notify_oldest_undelivered_seconds{sink="dead"}') > 0.5, 10
        )
        assert metric('logistis_notify_sent_total{sink="dead"}') == 0


@pytest.mark.parametrize(
    ("notify", "message"),
    [
        ({"sinks": [], "rules": [{"name": "r", "sinks": ["ops"]}]}, "notify rule 'r': no sink named 'ops'"),
        (
            {"sinks": [{"name": "ops", "type": "webhook", "url": "http://127.0.0.1:1/"}],
             "rules": [{"name": "r", "operations": ["FROB"], "sinks": ["ops"]}]},
            "notify rule 'r': operations: unknown operation FROB",
        ),
        (
            {"sinks": [{"name": "ops", "type": "slack", "urlFile": "/nonexistent/slack-url"}]},
            "notify sink 'ops': urlFile /nonexistent/slack-url: No such file or directory",
        ),
        (
            {"sinks": [{"name": "ops", "type": "webhook", "url": "http://127.0.0.1:1/"}],
             "rules": [{"name": "r", "actors": ["robot"], "sinks": ["ops"]}]},
            "notify rule 'r': actors: unknown robot",
        ),
    ],
)  # fmt: skip
def test_a_wrong_notify_section_stops_the_start_with_one_line(
    tmp_path: Path, notify: dict[str, object], message: str
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({"notify": notify}))
    result = run_collector_command(["--config", str(config), "--data-dir", str(tmp_path / "d")])
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1, result.stderr
    assert message in result.stderr


def test_notify_test_shows_what_rules_would_send_without_sending(
    tmp_path: Path, receiver: Receiver
) -> None:
    rules = [
        {"name": "prod", "namespaces": ["prod-*"], "sinks": ["ops"]},
        {"name": "hand-edits", "handEdit": True, "sinks": ["ops"]},
    ]
    collector = collector_with(tmp_path, [webhook_sink(receiver)], rules, None)
    with collector:
        post_reviews(collector, [configmap_update("prod-eu", "c", 1)])
        assert wait_for(lambda: len(receiver.taken()) == 1, 10)
        event_id = receiver.taken()[0].json()["event"]["id"]
    flags = ["--config", str(tmp_path / "data.yaml"), "--data-dir", str(collector.data_dir)]
    shown = run_collector_command(["notify", "test", "--event", str(event_id), *flags])
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert lines[0] == f"rule prod -> sink ops (webhook) {receiver.url('/ops')}"
    assert f"  Idempotency-Key: {receiver.taken()[0].headers['Idempotency-Key']}" in lines
    assert lines[-1] == "rule hand-edits: no match"
    assert len(receiver.received) == 1, "nothing sent"
    missing = run_collector_command(["notify", "test", "--event", "999", *flags])
    assert (missing.returncode, missing.stderr) == (1, "logistis-collector notify: no event 999\n")


def test_notify_send_test_sends_a_test_message_to_a_sink(
    tmp_path: Path, receiver: Receiver
) -> None:
    dead = {"name": "dead", "type": "slack", "url": f"http://127.0.0.1:{free_port()}/"}
    config = write_config(tmp_path / "c.yaml", [webhook_sink(receiver), dead], [])
    sent = run_collector_command(["notify", "send-test", "--config", str(config), "--sink", "ops"])
    assert (sent.returncode, sent.stdout) == (0, "sink ops (webhook) took the test message\n")
    assert receiver.taken()[0].json()["event"]["name"] == "logistis-notify-test"
    failed = run_collector_command(
        ["notify", "send-test", "--config", str(config), "--sink", "dead"]
    )
    assert failed.returncode == 1
    assert failed.stderr.startswith("logistis-collector notify: sink dead: ClientConnectorError")


def test_a_rule_on_userinfo_extra_selects_as_a_capture_rule_does(
    tmp_path: Path, receiver: Receiver
) -> None:
    rules = [{"name": "sso", "extra": {"acme.io/idp": ["okta"]}, "sinks": ["ops"]}]
    signed_in = configmap_update("prod-eu", "c", 1)
    signed_in["request"]["userInfo"]["extra"] = {"acme.io/idp": ["okta"]}
    with collector_with(tmp_path, [webhook_sink(receiver)], rules, None) as collector:
        post_reviews(collector, [configmap_update("prod-eu", "c", 2), signed_in])
        assert wait_for(lambda: len(receiver.taken()) == 1, 10)
        time.sleep(0.5)
    assert [r.json()["event"]["uid"] for r in receiver.received] == [signed_in["request"]["uid"]]

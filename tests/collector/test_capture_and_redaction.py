"""Capture rules from a config file and flags, and Secret redaction checked on disk."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from logistis.collector.store import StoreURL
from tests.collector.test_recording import all_events
from tests.support.collector import CollectorProcess, post_reviews, run_collector_command
from tests.support.fixtures import bodies, load
from tests.support.stores import stored_bodies

SECRET_FIXTURES = (145, 146, 147, 222, 223)


def secret_values() -> set[str]:
    """Every plain and base64 secret value the captured Secrets carry."""
    values: set[str] = set()

    def collect(manifest: dict | None) -> None:
        if not manifest:
            return
        for key, value in (manifest.get("stringData") or {}).items():
            values.update({value, base64.b64encode(value.encode()).decode()})
            del key
        for value in (manifest.get("data") or {}).values():
            values.update({value, base64.b64decode(value).decode()})
        applied = (manifest.get("metadata", {}).get("annotations") or {}).get(
            "kubectl.kubernetes.io/last-applied-configuration"
        )
        if applied:
            collect(json.loads(applied))

    for number in SECRET_FIXTURES:
        request = load(number)["body"]["request"]
        collect(request.get("object"))
        collect(request.get("oldObject"))
    return {v for v in values if len(v) >= 4}


def test_no_secret_value_reaches_the_database_file(tmp_path):
    values = secret_values()
    assert "s3cr3t-t0ken" in values
    assert len(values) >= 6
    with CollectorProcess(tmp_path / "data") as collector:
        post_reviews(collector, [load(n)["body"] for n in SECRET_FIXTURES])
        assert len(all_events(collector)) == len(SECRET_FIXTURES)
        served = json.dumps(
            [
                collector.client().get(f"/api/v1/events/{e['id']}").json()
                for e in all_events(collector)
            ]
        )
    # The collector is stopped: the database and its WAL hold everything it wrote, the bodies
    # compressed (a scan of the files cannot see into them: they are read back decompressed).
    written = b"".join(p.read_bytes() for p in (tmp_path / "data").glob("logistis.db*"))
    written += b"".join(stored_bodies(StoreURL.sqlite(tmp_path / "data" / "logistis.db")))
    logs = (tmp_path / "data" / "collector.log").read_text()
    for value in values:
        assert value.encode() not in written, value
        assert value not in served, value
        assert value not in logs, value
    assert "redacted:sha256:" in served


def test_redacted_values_still_show_which_key_changed(tmp_path):
    with CollectorProcess(tmp_path / "data") as collector:
        post_reviews(collector, [load(145)["body"], load(146)["body"]])
        update = all_events(collector, operation="UPDATE")[0]
        with collector.client() as client:
            detail = client.get(f"/api/v1/events/{update['id']}").json()
    old, new = detail["oldObject"]["data"], detail["object"]["data"]
    assert old.keys() & new.keys()
    changed = {k for k in old.keys() & new.keys() if old[k] != new[k]}
    assert changed
    assert {"op": "replace", "path": f"/data/{sorted(changed)[0]}"} in detail["changes"]


def test_config_file_rules_with_cel(tmp_path: Path):
    config = tmp_path / "config.yaml"
    config.write_text(
        """
capture:
  exclude:
    - name: controllers
      users: ["system:*"]
    - name: deployment-updates-that-keep-replicas
      kinds: ["apps/Deployment"]
      cel: "request.operation == 'UPDATE' && object.spec.replicas == oldObject.spec.replicas"
retention:
  maxEventsPerResource: 50
"""
    )
    with CollectorProcess(tmp_path / "data", "--config", str(config)) as collector:
        post_reviews(collector)
        events = all_events(collector)
    assert events
    assert not any(e["user"]["username"].startswith("system:") for e in events)
    humans = [
        b["request"] for b in bodies()
        if not b["request"]["userInfo"]["username"].startswith("system:") and not b["request"]["dryRun"]
    ]  # fmt: skip
    kept_replicas = [
        r for r in humans
        if r["resource"]["resource"] == "deployments" and r["operation"] == "UPDATE"
        and r["object"]["spec"]["replicas"] == r["oldObject"]["spec"]["replicas"]
    ]  # fmt: skip
    assert kept_replicas, "the fixtures have deployment updates that keep replicas"
    assert len(events) == len(humans) - len(kept_replicas)
    assert {e["uid"] for e in events}.isdisjoint(r["uid"] for r in kept_replicas)


def test_exclude_flags(tmp_path):
    with CollectorProcess(
        tmp_path / "data", "--exclude-namespace", "kube-system", "--exclude-kind", "core/Event"
    ) as collector:
        post_reviews(collector)
        events = all_events(collector)
    assert events
    assert not any(e["namespace"] == "kube-system" for e in events)
    assert not any(e["resource"]["kind"] == "Event" for e in events)


def test_record_dry_run_flag(tmp_path):
    with CollectorProcess(tmp_path / "data", "--record-dry-run") as collector:
        post_reviews(collector, [load(2)["body"], load(148)["body"]])
        events = all_events(collector)
    assert [e["dryRun"] for e in events] == [True, True]


def test_a_bad_rule_stops_the_start_and_names_the_rule(tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text("capture:\n  exclude:\n    - name: broken\n      cel: 'object.spec.'\n")
    result = run_collector_command(["--data-dir", str(tmp_path / "data"), "--config", str(config)])
    assert result.returncode == 2
    assert "broken" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "data" / "logistis.db").exists()

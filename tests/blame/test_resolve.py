"""TYPE resolution, kubeconfig namespaces and time parsing: the pure parts of the command line."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from logistis.client.events import KindCount
from logistis.client.timeparse import BadTime, parse_duration, parse_time
from logistis.kubectl.errors import BlameError, ExitCode
from logistis.kubectl.kubeconfig import default_namespace
from logistis.kubectl.resolve import recorded_types, resolve, split_type

RECORDED = (
    KindCount("example.com", "Widget", "widgets", 5),
    KindCount("apps", "Deployment", "deployments", 3),
)


@pytest.mark.parametrize(
    ("short", "qualified"),
    [
        ("po", "pods"), ("svc", "services"), ("cm", "configmaps"), ("ns", "namespaces"),
        ("sa", "serviceaccounts"), ("deploy", "deployments.apps"), ("rs", "replicasets.apps"),
        ("ds", "daemonsets.apps"), ("sts", "statefulsets.apps"), ("ing", "ingresses.networking.k8s.io"),
        ("cj", "cronjobs.batch"), ("pvc", "persistentvolumeclaims"), ("hpa", "horizontalpodautoscalers.autoscaling"),
        ("crd", "customresourcedefinitions.apiextensions.k8s.io"), ("pdb", "poddisruptionbudgets.policy"),
        ("ev", "events"), ("events.events.k8s.io", "events.events.k8s.io"),
    ],
)  # fmt: skip
def test_standard_short_names(short: str, qualified: str) -> None:
    assert resolve(short).qualified == qualified


def test_kinds_plurals_and_groups_resolve_alike() -> None:
    forms = [
        "deployment",
        "deployments",
        "Deployment",
        "DEPLOY",
        "deployment.apps",
        "deployments.v1.apps",
    ]
    assert {resolve(form) for form in forms} == {resolve("deploy")}
    assert split_type("deployments.v1.apps") == ("deployments", "apps")
    assert split_type("widgets.example.com") == ("widgets", "example.com")


def test_custom_resources_come_from_the_recorded_kinds() -> None:
    widget = resolve("widget", recorded_types(RECORDED))
    assert (widget.group, widget.resource, widget.kind, widget.namespaced) == (
        "example.com",
        "widgets",
        "Widget",
        None,
    )
    assert resolve("widgets.example.com", recorded_types(RECORDED)) == widget
    with pytest.raises(BlameError) as raised:
        resolve("widget")
    assert raised.value.code is ExitCode.UNKNOWN_TYPE
    with pytest.raises(BlameError):
        resolve("deployments.example.com", recorded_types(RECORDED))


def test_scope_of_builtin_types() -> None:
    assert resolve("clusterroles").namespaced is False
    assert resolve("pv").namespaced is False
    assert resolve("pvc").namespaced is True


def test_default_namespace_follows_kubectl(tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.write_text(
        yaml.safe_dump(
            {
                "current-context": "a",
                "contexts": [
                    {"name": "a", "context": {"namespace": "team-a"}},
                    {"name": "b", "context": {}},
                ],
            }
        )
    )
    assert default_namespace(str(config)) == "team-a"
    assert default_namespace(str(config), "b") == "default"
    assert default_namespace(None, None, {"KUBECONFIG": f"{config}:/nonexistent"}) == "team-a"
    assert default_namespace(str(tmp_path / "missing")) == "default"
    (tmp_path / "broken").write_text("{not: [yaml")
    assert default_namespace(str(tmp_path / "broken")) == "default"


def test_times_and_durations() -> None:
    now = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    assert parse_duration("1h30m") == timedelta(hours=1, minutes=30)
    assert parse_duration("7d") == timedelta(days=7)
    assert parse_duration("soon") is None
    assert parse_time("2h", now=now) == datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
    assert parse_time("2026-11-25T01:47:38.214Z") == datetime(
        2026, 11, 25, 1, 47, 38, 214000, tzinfo=UTC
    )
    assert parse_time("2026-11-25") == datetime(2026, 11, 25, tzinfo=UTC)
    with pytest.raises(BadTime, match="'yesterday' is not a time"):
        parse_time("yesterday")

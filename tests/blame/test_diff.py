"""The shared diff rendering, on the real objects of the captured requests."""

from __future__ import annotations

from typing import Any

import yaml

from logistis.client.diff import (
    DiffKind,
    patch_lines,
    patch_ops,
    strip_noise,
    summarize_changes,
    to_yaml,
    unified_diff,
)
from tests.support.fixtures import load


def request(number: int) -> dict[str, Any]:
    return load(number)["body"]["request"]


def test_noise_is_stripped_and_the_rest_kept() -> None:
    deployment = request(71)["object"]
    stripped = strip_noise(deployment)
    metadata = stripped["metadata"]
    for noise in ("managedFields", "resourceVersion", "generation", "uid", "creationTimestamp"):
        assert noise not in metadata
    assert "creationTimestamp" not in stripped["spec"]["template"]["metadata"]
    assert metadata["labels"] == {"app": "nginx"}
    assert stripped["spec"] == {
        **deployment["spec"],
        "template": {**deployment["spec"]["template"], "metadata": {"labels": {"app": "nginx"}}},
    }
    assert "managedFields" in deployment["metadata"], "the input is left alone"
    assert strip_noise(deployment, show_noise=True) is deployment


def test_condition_heartbeats_are_noise_but_transitions_are_not() -> None:
    status = strip_noise(request(75)["object"])["status"]
    for condition in status["conditions"]:
        assert "lastUpdateTime" not in condition
        assert "lastTransitionTime" in condition


def test_yaml_is_kubectls_layout_and_reads_back_as_the_object() -> None:
    deployment = strip_noise(request(45)["object"])
    text = to_yaml(deployment)
    assert yaml.safe_load(text) == deployment
    assert (
        "      containers:\n      - image: nginx:1.25\n        imagePullPolicy: IfNotPresent\n"
        in text
    )
    assert text.splitlines()[:3] == ["apiVersion: apps/v1", "kind: Deployment", "metadata:"]
    assert "      maxSurge: 25%\n" in text


def test_yaml_of_awkward_values_reads_back_exactly() -> None:
    value = {
        "script": "set -e\necho hi\n",
        "nochomp": "a\nb",
        "quoted": ["true", "1", "", "null", "2026-11-25T01:47:38Z", "a: b", "- x"],
        "nested": [["a", "b"], {}, [], {"k": None}],
        "leading": "  indented\nsecond",
    }
    text = to_yaml(value)
    assert yaml.safe_load(text) == value
    assert 'quoted:\n- "true"\n- "1"\n' in text
    assert "script: |\n  set -e\n  echo hi\n" in text


def test_set_image_diff_shows_only_the_image_with_context_and_elision() -> None:
    r = request(71)
    lines = unified_diff(r["oldObject"], r["object"])
    changed = [
        (line.kind, line.text) for line in lines if line.kind in (DiffKind.ADD, DiffKind.REMOVE)
    ]
    assert changed == [
        (DiffKind.REMOVE, "      - image: nginx:1.25"),
        (DiffKind.ADD, "      - image: nginx:1.27"),
    ]
    assert lines[0].kind is DiffKind.ELISION
    assert lines[-1].kind is DiffKind.ELISION
    assert sum(line.kind is DiffKind.CONTEXT for line in lines) == 6
    added = next(line for line in lines if line.kind is DiffKind.ADD)
    assert added.path == ("spec", "template", "spec", "containers", 0, "image")
    assert added.marked == "+       - image: nginx:1.27"


def test_context_widens_and_noise_can_be_shown() -> None:
    r = request(71)
    narrow = unified_diff(r["oldObject"], r["object"], context=0)
    assert [line.kind for line in narrow] == [
        DiffKind.ELISION,
        DiffKind.REMOVE,
        DiffKind.ADD,
        DiffKind.ELISION,
    ]
    noisy = unified_diff(r["oldObject"], r["object"], show_noise=True)
    assert any("manager: kubectl-set" in line.text for line in noisy if line.kind is DiffKind.ADD)


def test_create_and_delete_add_or_remove_everything() -> None:
    created = unified_diff(None, request(45)["object"], labels=("before", "after"))
    assert [line.text for line in created[:2]] == ["--- before", "+++ after"]
    assert {line.kind for line in created[2:]} == {DiffKind.ADD}
    deleted = unified_diff(request(193)["oldObject"], None)
    assert {line.kind for line in deleted} == {DiffKind.REMOVE}


def test_equal_objects_have_no_diff() -> None:
    obj = request(71)["object"]
    assert unified_diff(obj, obj) == []
    assert patch_lines(obj, obj) == []


def test_patch_lines_carry_old_and_new_values() -> None:
    scale = request(59)
    assert patch_lines(scale["oldObject"], scale["object"]) == ["replace /spec/replicas: 1 -> 3"]
    label = request(81)
    assert patch_lines(label["oldObject"], label["object"]) == ['add /metadata/labels/tier: "web"']
    assert patch_lines(None, label["object"]) == ["add (whole object)"]
    assert patch_lines(label["oldObject"], None) == ["remove (whole object)"]
    assert patch_ops(scale["oldObject"], scale["object"]) == [
        {"op": "replace", "path": "/spec/replicas", "value": 3}
    ]


def test_summaries_read_like_field_paths() -> None:
    assert (
        summarize_changes(
            [
                {"op": "replace", "path": "/spec/replicas"},
                {"op": "replace", "path": "/spec/template/spec/containers/0/image"},
            ]
        )
        == "spec.replicas, spec.template...image"
    )
    assert summarize_changes([{"op": "add", "path": ""}]) == "created"
    assert summarize_changes([{"op": "remove", "path": ""}]) == "deleted"
    assert summarize_changes(
        [{"op": "add", "path": "/metadata/labels/app.kubernetes.io~1name"}]
    ) == ("metadata.labels.app.kubernetes.io/name")
    many = [{"op": "add", "path": f"/data/k{i}"} for i in range(6)]
    assert summarize_changes(many) == "data.k0, data.k1, data.k2, data.k3 +2 more"
    assert summarize_changes([]) == ""

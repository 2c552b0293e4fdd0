"""Change summaries: RFC 6902 paths from old to new object, values and noise left out."""

from __future__ import annotations

import jsonpatch
import pytest

from logistis.collector.changes import compute_changes
from tests.support.fixtures import bodies, load


def request(number: int) -> dict:
    return load(number)["body"]["request"]


def test_create_delete_and_connect():
    assert compute_changes("CREATE", None, request(45)["object"]) == [{"op": "add", "path": ""}]
    assert compute_changes("DELETE", request(193)["oldObject"], None) == [
        {"op": "remove", "path": ""}
    ]
    assert compute_changes("CONNECT", None, request(172)["object"]) == []


def test_label_patch_is_one_path():
    assert compute_changes("UPDATE", request(81)["oldObject"], request(81)["object"]) == [
        {"op": "add", "path": "/metadata/labels/tier"}
    ]


def test_heartbeats_and_server_fields_are_noise():
    changes = compute_changes("UPDATE", request(166)["oldObject"], request(166)["object"])
    paths = [c["path"] for c in changes]
    assert "/status/conditions/0/lastTransitionTime" in paths
    assert not any(
        p.endswith(("lastUpdateTime", "lastHeartbeatTime", "lastProbeTime")) for p in paths
    )
    assert not any(p.startswith("/metadata/managedFields") for p in paths)
    assert "/metadata/resourceVersion" not in paths


@pytest.mark.parametrize(
    "review",
    [b for b in bodies() if b["request"]["operation"] == "UPDATE"],
    ids=lambda b: b["request"]["uid"][:8],
)
def test_every_update_names_exactly_the_paths_a_full_patch_touches(review):
    old, new = review["request"]["oldObject"], review["request"]["object"]
    expected = {
        op["path"]
        for op in jsonpatch.make_patch(old, new).patch
        if not op["path"].startswith(
            ("/metadata/managedFields", "/metadata/resourceVersion", "/metadata/generation")
        )
        and not op["path"].endswith(("lastUpdateTime", "lastHeartbeatTime", "lastProbeTime"))
    }
    changes = compute_changes("UPDATE", old, new)
    assert all(set(c) <= {"op", "path", "from"} for c in changes)
    assert {c["path"] for c in changes} == expected

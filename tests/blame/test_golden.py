"""Golden files for the table and diff outputs, at a fixed width and without color.

Times are stamped by the collector as it receives the fixtures, and event ids depend on what
its capture rules record, so both are masked; everything else must match byte for byte.
Set LOGISTIS_UPDATE_GOLDEN=1 to rewrite the files after an intended change, and review the diff.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

GOLDEN = Path(__file__).with_name("golden")
TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
EVENT_ID = re.compile(r"event \d+")

CASES = {
    "table-deployments-team-a.txt": ["deployments", "-n", "team-a", "--limit", "15"],
    "table-people-everywhere.txt": ["-A", "--people", "--limit", "25"],
    "diff-nginx-alice.txt": ["deploy/nginx", "-n", "team-a", "--user", "alice", "-o", "diff"],
    "diff-widget.txt": ["widgets", "w1", "-n", "team-a", "-o", "diff"],
}
# kubectl logistis: kubectl's names, people first, field paths.
LOGISTIS = {
    "logistis-blame-nginx.txt": ["blame", "deployment/nginx", "-n", "team-a"],
    "logistis-blame-everywhere.txt": ["blame", "-A", "--since", "1d", "--limit", "12"],
    "logistis-diff-nginx.txt": [
        "blame", "deploy/nginx", "-n", "team-a", "-o", "diff", "--operation", "update", "--limit", "3",
    ],
    "logistis-log-team-a.txt": ["log", "-n", "team-a", "--all-actors", "--limit", "15"],
    "logistis-who-everywhere.txt": ["who", "-A"],
    "logistis-top-everywhere.txt": ["top", "-A", "--limit", "5"],
    "logistis-top-team-a.txt": ["top", "deployments", "-n", "team-a"],
}  # fmt: skip
# Against the history that misses alice's scale and her `owner` label (conftest.LEFT_OUT).
HOLES = {
    "holes-table-nginx.txt": ["deploy/nginx", "-n", "team-a"],
    "holes-diff-nginx-alice.txt": ["deploy/nginx", "-n", "team-a", "--user", "alice", "-o", "diff"],
    "holes-fields-nginx.txt": ["deploy/nginx", "-n", "team-a", "--fields"],
    "never-landed-replicaset.txt": ["replicasets", "nginx-8ff954c69", "-n", "team-a"],
}

# Against Argo CD's and Flux's stories: the hand-edit marks, what manages each object, the
# revision of each GitOps write.
GITOPS = {
    "gitops-blame-everywhere.txt": ["-A"],
    "gitops-fields-web.txt": ["deploy", "web", "-n", "shop", "--fields"],
}
WIDE = "200"  # -o wide's columns, none cut
LOGISTIS_GITOPS = {
    "gitops-logistis-hand-edits.txt": ["blame", "-A", "--hand-edits"],
    "gitops-logistis-log-shop-wide.txt": ["log", "-n", "shop", "--all-actors", "-o", "wide"],
}


def masked(text: str) -> str:
    return EVENT_ID.sub("event N", TIME.sub("YYYY-MM-DDThh:mm:ssZ", text))


@pytest.mark.parametrize("name", sorted(CASES))
def test_output_matches_the_golden_file(blame, name: str) -> None:
    check(blame(*CASES[name]), name)


@pytest.mark.parametrize("name", sorted(LOGISTIS))
def test_kubectl_logistis_output_matches_the_golden_file(logistis, name: str) -> None:
    check(logistis(*LOGISTIS[name]), name)


@pytest.mark.parametrize("name", sorted(HOLES))
def test_the_marks_of_an_incomplete_history_match_the_golden_file(
    blame_with_holes, name: str
) -> None:
    check(blame_with_holes(*HOLES[name]), name)


@pytest.mark.parametrize("name", sorted(GITOPS))
def test_hand_edits_and_revisions_match_the_golden_file(blame_gitops, name: str) -> None:
    check(blame_gitops(*GITOPS[name]), name)


@pytest.mark.parametrize("name", sorted(LOGISTIS_GITOPS))
def test_kubectl_logistis_marks_hand_edits_as_the_golden_file(logistis_gitops, name: str) -> None:
    check(logistis_gitops(*LOGISTIS_GITOPS[name], COLUMNS=WIDE), name)


def check(result: subprocess.CompletedProcess[str], name: str) -> None:
    assert result.returncode == 0, result.stderr
    path = GOLDEN / name
    if os.environ.get("LOGISTIS_UPDATE_GOLDEN"):
        path.write_text(masked(result.stdout))
    assert masked(result.stdout) == path.read_text()

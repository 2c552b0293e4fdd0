"""`kubectl logistis`, through the real kubectl's plugin discovery, against a real collector.

The kubeconfig's context has no namespace, so kubectl's default (`default`) is where a command
without `-n` looks; the history is in team-a and team-b.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest

from logistis.version import installed_version
from tests.blame.conftest import KUBECTL_LOGISTIS, Fed, blame_env, discovery_env
from tests.blame.test_cli import rows, run_on_a_terminal
from tests.blame.test_original_commands import KUBECTL, kubectl
from tests.support.collector import CollectorProcess, post_reviews
from tests.support.fixtures import load

LEFT_OUT = "left out: --all-actors shows them"
ALICE_CREATES_NGINX, ALICE_SET_IMAGE, ALICE_LABELS_TIER = 45, 71, 81


@pytest.fixture
def env(fed: Fed, tmp_path: Path) -> dict[str, str]:
    assert KUBECTL, "the real kubectl must be on PATH: plugin discovery is what is tested"
    return discovery_env(fed, tmp_path, {"cluster": "dev"})


def logistis(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return kubectl("logistis", *args, env=env)


# -- kubectl's names and habits ------------------------------------------------------------


def test_a_new_user_reads_the_people_who_changed_an_object_in_kubectls_words(env) -> None:
    result = logistis("blame", "deployment/nginx", "-n", "team-a", env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0].split() == ["NAME", "OPERATION", "USER", "TIME", "PATCH"]
    found = rows(result.stdout)
    assert {row[0] for row in found} == {"deployment.apps/nginx"}
    assert {row[2] for row in found} == {"alice"}
    assert "replace spec.template.spec.containers[0].image" in result.stdout
    (count,) = result.stderr.splitlines()
    assert count.endswith(LEFT_OUT)
    assert int(count.split()[0]) > 0


@pytest.mark.parametrize(
    "args",
    [
        ("deployment", "nginx"),
        ("deploy/nginx",),
        ("deployment.apps/nginx",),
        ("deployments.v1.apps/nginx",),
        ("Deployment", "nginx"),
    ],
)
def test_type_and_name_in_each_form_kubectl_takes(env, args: tuple[str, ...]) -> None:
    expected = logistis("blame", "deployment/nginx", "-n", "team-a", env=env).stdout
    assert logistis("blame", *args, "-n", "team-a", env=env).stdout == expected


def test_all_actors_shows_the_machines_and_nothing_is_left_out(env) -> None:
    result = logistis("blame", "deploy/nginx", "-n", "team-a", "--all-actors", env=env)
    assert result.returncode == 0, result.stderr
    assert any(row[2].startswith("…") for row in rows(result.stdout)), "controllers, cut"
    assert LEFT_OUT not in result.stderr


def test_a_list_cut_by_limit_says_how_much_there_is(env) -> None:
    result = logistis("log", "-n", "team-a", "--all-actors", "--limit", "4", env=env)
    assert result.returncode == 0, result.stderr
    assert len(rows(result.stdout)) >= 4
    (count,) = result.stderr.splitlines()
    shown, of, total, *rest = count.split()
    assert (shown, of, " ".join(rest)) == (
        "4",
        "of",
        f"changes shown: --limit {total} shows them all",
    )
    assert int(total) > 4


def test_all_namespaces_puts_the_namespace_first(env) -> None:
    result = logistis("log", "-A", "--all-actors", "--limit", "200", env=env)
    assert result.returncode == 0, result.stderr
    header = result.stdout.splitlines()[0].split()
    assert header == ["NAMESPACE", "NAME", "OPERATION", "USER", "TIME", "CHANGED"]
    lines = result.stdout.splitlines()[1:]
    assert any(line.startswith("team-b   ") for line in lines)
    # A cluster-scoped object has no namespace, as kubectl get -A leaves it blank.
    assert any(line.split()[0] == "namespace/team-b" for line in lines if line.startswith(" "))


def test_pointers_are_shown_as_paths_and_managers_come_from_managed_fields(env) -> None:
    result = logistis(
        "blame", "deploy/nginx", "-n", "team-a", "--all-actors", "-o", "wide", "--limit", "100",
        env={**env, "COLUMNS": "300"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "~1" not in result.stdout
    assert "metadata.annotations[deployment.kubernetes.io/revision]" in result.stdout
    # The deployment controller's status writes name no field manager in their requests.
    status = [
        line
        for line in result.stdout.splitlines()
        if "deployment-controller" in line and " replace status." in line
    ]
    assert status
    assert all("   kube-controller-manager   " in line for line in status)


def test_nothing_in_the_asked_namespace_says_where_the_history_is(env) -> None:
    kind = logistis("blame", "deployment", env=env)
    assert (kind.returncode, kind.stdout) == (0, "")
    assert kind.stderr == (
        'No changes found in namespace "default"; found in team-a: use -n team-a or -A.\n'
    )
    one = logistis("blame", "deploy", "nginx", env=env)
    assert one.returncode == 4
    assert one.stderr == (
        'error: deployments.apps "nginx" has no recorded history in namespace "default"; '
        "found in team-a: use -n team-a or -A\n"
    )
    fields = logistis("blame", "deploy", "nginx", "--fields", env=env)
    assert fields.returncode == 4
    assert "found in team-a: use -n team-a or -A" in fields.stderr


def test_name_no_headers_and_patch_outputs(env) -> None:
    names = logistis("blame", "deploy", "-n", "team-a", "-o", "name", env=env)
    assert names.stdout.splitlines() == sorted(
        names.stdout.splitlines(), key=names.stdout.splitlines().index
    )
    assert set(names.stdout.splitlines()) == {
        "deployment.apps/nginx",
        "deployment.apps/web",
        "deployment.apps/api",
    }
    headed = logistis("blame", "deploy/nginx", "-n", "team-a", env=env).stdout.splitlines()
    bare = logistis("blame", "deploy/nginx", "-n", "team-a", "--no-headers", env=env)
    assert bare.stdout.splitlines() == headed[1:]
    patch = logistis("blame", "deploy/nginx", "-n", "team-a", "-o", "patch", env=env).stdout
    heads, patches = patch.splitlines()[0::2], patch.splitlines()[1::2]
    assert all(head.startswith("# event ") for head in heads)
    operations = [json.loads(line) for line in patches]
    assert {"op": "add", "path": "/metadata/labels/tier", "value": "web"} in [
        op for ops in operations for op in ops
    ]


def test_a_label_selector_picks_objects_by_their_recorded_labels(env) -> None:
    tiered = logistis("blame", "deploy", "-n", "team-a", "-l", "tier=web", "-o", "name", env=env)
    assert (tiered.returncode, tiered.stdout) == (0, "deployment.apps/nginx\n")
    others = logistis(
        "blame", "deploy", "-n", "team-a", "-l", "app,tier notin (web)", "-o", "name", env=env
    )
    assert set(others.stdout.split()) == {"deployment.apps/web", "deployment.apps/api"}
    bad = logistis("blame", "deploy", "-l", "a=b=c", env=env)
    assert (bad.returncode, bad.stderr.count("\n")) == (2, 1)
    assert "is not a label selector" in bad.stderr


# -- the other subcommands -----------------------------------------------------------------


def test_diff_between_two_versions_as_a_patch_and_one_change_as_a_diff(env, fed: Fed) -> None:
    start, end = str(fed.ids[ALICE_CREATES_NGINX]), str(fed.ids[ALICE_LABELS_TIER])
    patch = logistis(
        "diff", "deploy/nginx", "-n", "team-a", "--from", start, "--to", end, "-o", "patch",
        env=env,
    )  # fmt: skip
    assert patch.returncode == 0, patch.stderr
    operations = json.loads(patch.stdout)
    assert {"op": "add", "path": "/metadata/labels/tier", "value": "web"} in operations
    change = logistis("diff", "--event", str(fed.ids[ALICE_SET_IMAGE]), env=env)
    assert change.returncode == 0, change.stderr
    assert change.stdout.startswith(
        f"event {fed.ids[ALICE_SET_IMAGE]}  deployment.apps/nginx -n team-a  UPDATE by alice"
    )
    assert "-       - image: nginx:1.25\n+       - image: nginx:1.27\n" in change.stdout
    latest = logistis("diff", "deploy/nginx", "-n", "team-a", "-o", "json", env=env)
    assert set(json.loads(latest.stdout)) == {"event", "patch"}
    one = logistis("diff", "deploy", "-n", "team-a", env=env)
    assert (one.returncode, one.stderr) == (
        2,
        "error: diff needs one object: TYPE NAME, or --event ID\n",
    )


def test_who_names_the_people_of_a_namespace(env) -> None:
    result = logistis("who", "-n", "team-a", env=env)
    assert result.returncode == 0, result.stderr
    header, *lines = result.stdout.splitlines()
    assert header.split() == ["USER", "CHANGES", "LAST", "CHANGE", "NAMESPACES", "KINDS"]
    users = [line.split()[0] for line in lines]
    assert users[0] == "alice"
    assert not any(user.startswith("system:") for user in users)
    assert result.stderr.endswith(f"{LEFT_OUT}\n")
    everyone = logistis("people", "-n", "team-a", "--all-actors", "-o", "json", env=env)
    items = json.loads(everyone.stdout)["items"]
    assert any(item["user"].startswith("system:serviceaccount:") for item in items)
    alice = next(item for item in items if item["user"] == "alice")
    assert alice["namespaces"] == {"team-a": alice["changes"]}


def test_top_as_json_counts_what_the_events_list(env, fed: Fed) -> None:
    result = logistis("top", "-A", "--since", "1d", "--limit", "3", "-o", "json", env=env)
    assert result.returncode == 0, result.stderr
    top = json.loads(result.stdout)
    window = {"since": top["since"], "until": top["until"], "limit": "1000"}
    with httpx.Client(base_url=fed.url, timeout=10) as client:
        items = client.get("/api/v1/events", params=window).json()["items"]
        people = client.get("/api/v1/events", params={**window, "actor": "person"}).json()
    assert top["total"] == len(items)
    assert top["byActor"]["person"] == len(people["items"])
    assert top["topPeople"] == [
        {"user": "alice", "count": 17},
        {"user": "kubernetes-admin", "count": 15},
        {"user": "bob", "count": 7},
    ]
    nginx = {"group": "apps", "resource": "deployments", "kind": "Deployment"}
    assert top["topObjects"][0] == {**nginx, "namespace": "team-a", "name": "nginx", "count": 26}
    assert len(top["topKinds"]) == 3
    assert result.stderr.startswith(f"{len(items)} changes from ")
    names = logistis("top", "-n", "team-a", "-o", "name", env=env).stdout.splitlines()
    assert names[0] == "deployment.apps/nginx"
    refused = logistis("top", "deploy", "nginx", env=env)
    assert (refused.returncode, refused.stderr) == (
        2,
        "error: top counts changes: no NAME, no --watch\n",
    )


def test_help_version_and_an_unknown_command(env) -> None:
    version = logistis("--version", env=env)
    assert (version.returncode, version.stdout) == (0, f"kubectl-logistis {installed_version()}\n")
    usage = logistis(env=env)
    assert usage.returncode == 0
    commands = ("blame", "log", "diff", "who", "top")
    assert all(f"  {command} " in usage.stdout for command in commands)
    blame_help = logistis("blame", "--help", env=env)
    assert "--all-actors" in blame_help.stdout
    assert "--people" not in blame_help.stdout
    unknown = logistis("stats", env=env)
    assert unknown.returncode == 2
    assert unknown.stderr.startswith('error: unknown command "stats" for "kubectl logistis"')


# -- completion, through kubectl's plugin completion ---------------------------------------


def complete(*words: str, env: dict[str, str]) -> list[str]:
    result = kubectl("__complete", "logistis", *words, env=env)
    assert result.returncode == 0, result.stderr
    *candidates, directive = result.stdout.splitlines()
    assert directive == ":4", "no file names offered"
    return candidates


def test_completion_offers_commands_types_names_namespaces_and_users(env) -> None:
    assert complete("", env=env) == ["blame", "log", "diff", "who", "top", "people"]
    assert complete("blame", "dep", env=env) == ["deployments"]
    assert complete("blame", "deployments", "-n", "team-a", "", env=env) == ["api", "nginx", "web"]
    assert complete("log", "-n", "team-a", "deploy/n", env=env) == ["deploy/nginx"]
    assert {"team-a", "team-b", "kube-system"} <= set(complete("blame", "-n", "", env=env))
    assert complete("who", "--user", "al", env=env) == ["alice"]
    assert "wide" in complete("blame", "-o", "", env=env)
    assert "--all-actors" in complete("blame", "--all", env=env)


# -- the pager -----------------------------------------------------------------------------

PAGER = """\
import pathlib, sys
pathlib.Path(sys.argv[1]).write_text(sys.stdin.read())
"""


def test_a_terminal_pages_through_pager_and_a_pipe_never_does(env, tmp_path: Path) -> None:
    pager = tmp_path / "pager.py"
    pager.write_text(PAGER)
    paged = tmp_path / "paged.txt"
    paging = {**env, "PAGER": f"{sys.executable} {pager} {paged}"}
    args = ["blame", "deploy/nginx", "-n", "team-a", "-o", "diff"]
    on_screen = run_on_a_terminal(args, paging, command=KUBECTL_LOGISTIS)
    assert on_screen == ""
    assert paged.read_text().startswith("\x1b[1;33mevent ")  # colored: less -R shows it
    piped = logistis(*args, env=paging)
    assert piped.stdout.startswith("event ")
    paged.unlink()
    assert run_on_a_terminal([*args, "--no-pager"], paging, command=KUBECTL_LOGISTIS)
    assert not paged.exists()


# -- following -----------------------------------------------------------------------------


def test_watch_prints_the_changes_recorded_after_it_started(tmp_path: Path) -> None:
    collector = CollectorProcess(tmp_path / "data")
    created = load(ALICE_CREATES_NGINX)["body"]
    changed = load(ALICE_SET_IMAGE)["body"]
    changed["request"]["uid"] = str(uuid.uuid4())
    with collector:
        post_reviews(collector, [created])
        env = blame_env(tmp_path, LOGISTIS_URL=collector.api_url)
        command = [str(KUBECTL_LOGISTIS), "log", "deploy", "-n", "team-a", "-w"]
        with subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
        ) as watching:
            assert watching.stdout is not None
            header, first = watching.stdout.readline(), watching.stdout.readline()
            assert header.split()[0] == "NAME"
            assert first.split()[:3] == ["deployment.apps/nginx", "CREATE", "alice"]
            # Whenever the stream opens, it starts after the last change listed: none is lost.
            post_reviews(collector, [changed])
            later = watching.stdout.readline()
            watching.terminate()
    assert later.split()[:3] == ["deployment.apps/nginx", "UPDATE", "alice"]
    assert later.rstrip().endswith("spec.template...image")

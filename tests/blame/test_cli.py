"""The real `kubectl-blame` command against a real collector fed with every captured request."""

from __future__ import annotations

import json
import os
import pty
import subprocess
from pathlib import Path

import httpx
import pytest
import yaml

from logistis.kubectl.errors import MEANINGS
from tests.blame.conftest import KUBECTL_BLAME, RACED, Fed, blame_env

ALICE_SCALE, ALICE_SET_IMAGE, ALICE_STRATEGIC, ALICE_JSON_PATCH = 59, 71, 81, 84


def rows(stdout: str) -> list[list[str]]:
    """Table rows (continuation lines left out), split on kubectl's three-space gaps."""
    lines = stdout.splitlines()
    return [
        [cell.strip() for cell in line.split("   ") if cell.strip()]
        for line in lines[1:]
        if line[:1].strip()
    ]


def event_time(fed: Fed, number: int) -> str:
    return httpx.get(f"{fed.url}/api/v1/events/{fed.ids[number]}", timeout=10).json()["time"]


# -- listings ------------------------------------------------------------------------------


def test_without_a_type_it_gives_the_cluster_overview(blame) -> None:
    result = blame()
    assert result.returncode == 0, result.stderr
    header, *lines = result.stdout.splitlines()
    assert header.split() == ["NAMESPACE", "CHANGES", "LAST", "CHANGE", "BY", "KINDS"]
    namespaces = [line.split()[0] for line in lines]
    assert {"team-a", "team-b", "kube-system", "(cluster)"} <= set(namespaces)
    team_a = next(line for line in lines if line.startswith("team-a "))
    assert "Deployment" in team_a


def test_a_namespace_lists_its_latest_changes(blame) -> None:
    result = blame("-n", "team-b")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0].split() == ["KEY", "OPERATION", "USER", "TIME", "PATCH"]
    keys = [row[0] for row in rows(result.stdout)]
    assert keys, result.stdout
    assert all(key.startswith("team-b/") for key in keys)


@pytest.mark.parametrize(
    "args",
    [
        ("deployment", "nginx"),
        ("deployments", "nginx"),
        ("deploy", "nginx"),
        ("Deployment", "nginx"),
        ("deployment.apps", "nginx"),
        ("deployments.v1.apps", "nginx"),
        ("deploy/nginx",),
    ],
)
def test_type_is_accepted_in_every_form_kubectl_accepts(blame, args: tuple[str, ...]) -> None:
    result = blame(*args, "-n", "team-a", "--limit", "50")
    assert result.returncode == 0, result.stderr
    table = rows(result.stdout)
    assert {row[0] for row in table} == {"team-a/Deployment/nginx"}
    assert len(table) == 26


def test_the_k9s_plugin_call_works(blame) -> None:
    # k9s runs: kubectl-blame $RESOURCE_NAME $NAME -n $NAMESPACE --context $CONTEXT
    result = blame("deployments", "nginx", "-n", "team-a", "--context", "kind-dev")
    assert result.returncode == 0, result.stderr
    assert rows(result.stdout)[0][0] == "team-a/Deployment/nginx"
    # For a cluster-scoped object k9s has no namespace to give: `-n ""`.
    cluster = blame("clusterroles", "admin", "-n", "", "--context", "kind-dev")
    assert cluster.returncode == 0, cluster.stderr
    assert {row[0] for row in rows(cluster.stdout)} == {"ClusterRole/admin"}


def test_custom_resources_resolve_through_the_recorded_kinds(blame) -> None:
    for name in ("widgets", "widget", "Widget", "widgets.example.com"):
        result = blame(name, "-n", "team-a")
        assert result.returncode == 0, (name, result.stderr)
        operations = [row[1] for row in rows(result.stdout)]
        assert operations == ["DELETE", "UPDATE status", "UPDATE scale", "UPDATE", "CREATE"], name


def test_cluster_scoped_types_ignore_the_namespace(blame) -> None:
    result = blame("clusterroles", "-n", "team-a")
    assert result.returncode == 0, result.stderr
    keys = {row[0] for row in rows(result.stdout)}
    assert keys == {"ClusterRole/admin", "ClusterRole/edit", "ClusterRole/view"}
    namespaces = blame("ns", "team-a")
    assert {row[0] for row in rows(namespaces.stdout)} == {"Namespace/team-a"}


def test_the_namespace_defaults_to_the_kubeconfig_context(blame, tmp_path: Path) -> None:
    config = tmp_path / "kubeconfig"
    config.write_text(
        yaml.safe_dump(
            {
                "current-context": "dev",
                "contexts": [
                    {"name": "dev", "context": {"namespace": "team-a"}},
                    {"name": "other", "context": {"namespace": "team-b"}},
                ],
            }
        )
    )
    current = blame("configmaps", KUBECONFIG=str(config), COLUMNS="200")
    assert {row[0] for row in rows(current.stdout)} == {
        "team-a/ConfigMap/kube-root-ca.crt",
        "team-a/ConfigMap/carol-notes",
    }
    other = blame("configmaps", "--kubeconfig", str(config), "--context", "other", COLUMNS="200")
    assert {row[0].split("/")[0] for row in rows(other.stdout)} == {"team-b"}


# -- filters -------------------------------------------------------------------------------


def test_filters_narrow_the_events(blame) -> None:
    alice = rows(blame("deploy", "-n", "team-a", "--user", "alice", "--limit", "100").stdout)
    assert alice
    assert {row[2] for row in alice} == {"alice"}
    deletes = rows(blame("deploy", "-A", "--operation", "delete").stdout)
    assert {row[1] for row in deletes} == {"DELETE"}
    assert len(rows(blame("pods", "-n", "team-a", "--limit", "3").stdout)) == 3
    people = rows(blame("-A", "--people", "--limit", "100").stdout)
    assert people
    assert not any(row[2].startswith("system:") for row in people)
    assert len(rows(blame("deploy", "-n", "team-a", "--since", "1h", "--limit", "5").stdout)) == 5


def test_a_filter_that_matches_nothing_says_so_and_succeeds(blame) -> None:
    result = blame("deploy", "nginx", "-n", "team-a", "--until", "2020-01-01T00:00:00Z")
    assert result.returncode == 0
    assert result.stdout == ""
    assert result.stderr == 'No changes found in namespace "team-a".\n'


# -- output formats ------------------------------------------------------------------------


def test_json_output_is_the_api_event_shape_newest_first(blame, fed: Fed) -> None:
    result = blame("deploy", "nginx", "-n", "team-a", "--user", "alice", "-o", "json")
    assert result.returncode == 0, result.stderr
    items = json.loads(result.stdout)["items"]
    ids = [item["id"] for item in items]
    assert ids == sorted(ids, reverse=True)
    numbers = [45, ALICE_SCALE, ALICE_SET_IMAGE, ALICE_STRATEGIC, 82, ALICE_JSON_PATCH, 193]
    assert ids == [fed.ids[n] for n in reversed(numbers)]
    scale = next(i for i in items if i["id"] == fed.ids[ALICE_SCALE])
    assert scale["resource"] == {
        "group": "apps", "version": "v1", "kind": "Deployment", "resource": "deployments", "subresource": "scale",
    }  # fmt: skip
    assert scale["changes"] == [{"op": "replace", "path": "/spec/replicas"}]
    yaml_items = yaml.safe_load(
        blame("deploy", "nginx", "-n", "team-a", "--user", "alice", "-o", "yaml").stdout
    )
    assert yaml_items == {"items": items}


def test_wide_output_adds_ids_managers_and_values(blame, fed: Fed) -> None:
    result = blame(
        "deploy", "nginx", "-n", "team-a", "--user", "alice", "-o", "wide", COLUMNS="200"
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    header = ["ID", "KEY", "OPERATION", "USER", "TIME", "MANAGER", "MANAGED BY", "REVISION"]
    assert lines[0].split() == [*" ".join(header).split(), "PATCH"]
    scale = next(line for line in lines if line.startswith(f"{fed.ids[ALICE_SCALE]} "))
    assert "UPDATE scale" in scale
    assert "replace /spec/replicas: 1 -> 3" in scale
    image = next(line for line in lines if line.startswith(f"{fed.ids[ALICE_SET_IMAGE]} "))
    assert "kubectl-set" in image
    assert 'replace /spec/template/spec/containers/0/image: "nginx:1.25" -> "nginx:1.27"' in image


def test_diff_output_shows_each_change_in_yaml_without_noise(blame, fed: Fed) -> None:
    result = blame("deploy", "nginx", "-n", "team-a", "--user", "alice", "-o", "diff")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    set_image = f"UPDATE by alice at {event_time(fed, ALICE_SET_IMAGE)[:19]}Z via kubectl-set"
    assert f"event {fed.ids[ALICE_SET_IMAGE]}  team-a/Deployment/nginx  {set_image}\n" in out
    assert "-       - image: nginx:1.25\n+       - image: nginx:1.27\n" in out
    assert "UPDATE through deployments/scale by alice" in out
    assert "-   replicas: 1\n+   replicas: 3\n" in out
    assert "[...]" in out
    assert "managedFields" not in out
    assert "resourceVersion" not in out
    noisy = blame(
        "deploy", "nginx", "-n", "team-a", "--user", "alice", "-o", "diff", "--show-managed-fields"
    )
    assert "managedFields" in noisy.stdout


def test_output_fits_the_terminal_width(blame) -> None:
    for output in ("table", "wide", "diff"):
        result = blame("deploy", "-n", "team-a", "-o", output, COLUMNS="80")
        assert result.returncode == 0, result.stderr
        assert max(len(line) for line in result.stdout.splitlines()) <= 80, output
    fields = blame("deploy", "nginx", "-n", "team-a", "--fields", COLUMNS="100").stdout
    assert max(len(line) for line in fields.splitlines()) <= 100
    assert "…oyment-controller  " in annotation(fields, "observedGeneration: 4")
    assert "| apiVersion: apps/v1" in fields


def run_on_a_terminal(args: list[str], env: dict[str, str], command: Path = KUBECTL_BLAME) -> str:
    """Run kubectl-blame (or `command`) with a pseudo-terminal as stdout; return what it
    wrote there."""
    leader, follower = pty.openpty()
    with subprocess.Popen(
        [str(command), *args], stdout=follower, stderr=subprocess.PIPE, env=env
    ) as process:
        os.close(follower)
        chunks = []
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the terminal closes once the command has exited
                break
            if not chunk:
                break
            chunks.append(chunk)
        process.wait(timeout=30)
    os.close(leader)
    return b"".join(chunks).decode()


def test_color_only_on_a_terminal_and_never_when_refused(fed: Fed, tmp_path: Path) -> None:
    args = ["deploy", "nginx", "-n", "team-a", "--user", "alice", "-o", "diff", "--url", fed.url]
    env = blame_env(tmp_path)
    colored = run_on_a_terminal(args, env)
    assert "\x1b[32m+       - image: nginx:1.27" in colored
    assert "\x1b[31m-       - image: nginx:1.25" in colored
    assert "\x1b[" not in run_on_a_terminal(args, {**env, "NO_COLOR": "1"})
    assert "\x1b[" not in run_on_a_terminal([*args, "--no-color"], env)
    piped = subprocess.run(
        [str(KUBECTL_BLAME), *args], capture_output=True, text=True, env=env, check=True
    )
    assert "\x1b[" not in piped.stdout


# -- field blame ---------------------------------------------------------------------------


def annotation(stdout: str, text: str) -> str:
    matches = [line for line in stdout.splitlines() if line.split(" | ", 1)[-1].strip() == text]
    assert len(matches) == 1, (text, stdout)
    return matches[0].split(" | ", 1)[0]


def test_field_blame_names_who_changed_each_line(blame, fed: Fed) -> None:
    result = blame("deployment", "nginx", "-n", "team-a", "--fields", COLUMNS="200")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    head = out.splitlines()[:3]
    assert head[0] == "# team-a/Deployment/nginx: 26 recorded writes"
    assert head[1] == f"# created by alice at {event_time(fed, 45)[:19]}Z (event {fed.ids[45]})"
    assert head[2].startswith(
        f"# deleted by alice at {event_time(fed, 193)[:19]}Z (event {fed.ids[193]})"
    )
    replicas = annotation(out, "replicas: 3").split()
    assert replicas == [
        str(fed.ids[ALICE_SCALE]),
        "alice",
        event_time(fed, ALICE_SCALE)[:19] + "Z",
        "kubectl",
        "(scale)",
    ]
    image = annotation(out, "- image: nginx:1.27").split()
    assert image == [
        str(fed.ids[ALICE_SET_IMAGE]),
        "alice",
        event_time(fed, ALICE_SET_IMAGE)[:19] + "Z",
        "kubectl-set",
    ]
    assert annotation(out, "tier: web").split()[::3] == [
        str(fed.ids[ALICE_STRATEGIC]),
        "kubectl-patch",
    ]
    assert annotation(out, "env: dev").split()[::3] == [
        str(fed.ids[ALICE_JSON_PATCH]),
        "kubectl-patch",
    ]
    assert annotation(out, "revisionHistoryLimit: 10").split()[::3] == [
        str(fed.ids[45]),
        "kubectl-create",
    ]
    # The controller's status write after the deletion began.
    status = annotation(out, "observedGeneration: 4").split()
    assert status == [
        str(fed.ids[194]),
        "system:serviceaccount:kube-system:deployment-controller",
        event_time(fed, 194)[:19] + "Z",
        "kube-controller-manager",
        "(status)",
    ]


def test_field_blame_as_json_for_scripts(blame, fed: Fed) -> None:
    result = blame("deploy", "nginx", "-n", "team-a", "--fields", "-o", "json")
    assert result.returncode == 0, result.stderr
    body = json.loads(result.stdout)
    replicas = next(line for line in body["lines"] if line["path"] == ["spec", "replicas"])
    assert replicas == {
        "line": "  replicas: 3",
        "path": ["spec", "replicas"],
        "event": fed.ids[ALICE_SCALE],
        "unrecorded": False,
        "user": "alice",
        "time": event_time(fed, ALICE_SCALE)[:19] + "Z",
        "operation": "UPDATE",
        "fieldManager": "kubectl",
        "subresource": "scale",
        "revision": None,  # alice is not a GitOps tool
    }


# -- time travel ---------------------------------------------------------------------------


def test_event_shows_the_object_as_that_write_left_it(blame, fed: Fed) -> None:
    after_scale = blame("--event", str(fed.ids[ALICE_SCALE]))
    assert after_scale.returncode == 0, after_scale.stderr
    version = yaml.safe_load(after_scale.stdout)
    assert version["spec"]["replicas"] == 3
    assert version["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.25"
    assert after_scale.stdout.startswith(
        f"# team-a/Deployment/nginx after event {fed.ids[ALICE_SCALE]}: UPDATE through deployments/scale by alice"
    )
    named = blame(
        "deploy", "nginx", "-n", "team-a", "--event", str(fed.ids[ALICE_SET_IMAGE]), "-o", "json"
    )
    assert (
        json.loads(named.stdout)["spec"]["template"]["spec"]["containers"][0]["image"]
        == "nginx:1.27"
    )
    fields = blame("--event", str(fed.ids[ALICE_SET_IMAGE]), "--fields")
    assert annotation(fields.stdout, "- image: nginx:1.27").split()[:2] == [
        str(fed.ids[ALICE_SET_IMAGE]),
        "alice",
    ]
    assert "tier: web" not in fields.stdout
    diff = blame("--event", str(fed.ids[ALICE_SET_IMAGE]), "-o", "diff")
    assert "+       - image: nginx:1.27" in diff.stdout


def test_at_shows_the_object_as_it_was_then(blame, fed: Fed) -> None:
    before = blame(
        "deploy", "nginx", "-n", "team-a", "--at", event_time(fed, ALICE_SCALE), "-o", "json"
    )
    assert before.returncode == 0, before.stderr
    assert (
        json.loads(before.stdout)["spec"]["template"]["spec"]["containers"][0]["image"]
        == "nginx:1.25"
    )
    after = blame(
        "deploy", "nginx", "-n", "team-a", "--at", event_time(fed, ALICE_SET_IMAGE), "--fields"
    )
    assert annotation(after.stdout, "- image: nginx:1.27").split()[1] == "alice"
    assert "tier: web" not in after.stdout


def test_two_versions_diff(blame, fed: Fed) -> None:
    args = ["deploy", "nginx", "-n", "team-a", "--diff-from", str(fed.ids[ALICE_SCALE])]
    result = blame(*args, "--diff-to", str(fed.ids[ALICE_JSON_PATCH]))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith(
        f"--- team-a/Deployment/nginx after event {fed.ids[ALICE_SCALE]} (alice, "
    )
    assert lines[1].startswith(
        f"+++ team-a/Deployment/nginx after event {fed.ids[ALICE_JSON_PATCH]} (alice, "
    )
    for added in (
        "+     env: dev",
        "+     owner: alice",
        "+     tier: web",
        "+       - image: nginx:1.27",
    ):
        assert added in lines
    patch = json.loads(
        blame(*args, "--diff-to", event_time(fed, ALICE_SET_IMAGE), "-o", "json").stdout
    )
    assert patch["from"] == fed.ids[ALICE_SCALE]
    assert {
        "op": "replace",
        "path": "/spec/template/spec/containers/0/image",
        "value": "nginx:1.27",
    } in patch["patch"]
    same = blame(*args, "--diff-to", str(fed.ids[ALICE_SCALE]))
    assert same.stdout.startswith("# no differences between")


# -- errors --------------------------------------------------------------------------------


def one_error_line(result: subprocess.CompletedProcess[str], code: int, *fragments: str) -> None:
    assert result.returncode == code, (result.returncode, result.stderr)
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("error: ")
    for fragment in fragments:
        assert fragment in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--bogus"], "unrecognized arguments: --bogus"),
        (["deploy", "-o", "xml"], "invalid choice: 'xml'"),
        (["deploy", "--since", "yesterday"], "'yesterday' is not a time"),
        (["deploy", "--limit", "0"], "'0' is not a positive number"),
        (["deploy", "--fields"], "need one object"),
        (["deploy", "-n", "a", "-A"], "exclude each other"),
        (["deploy/a", "svc/b"], "one resource type at a time"),
        (["deploy/a", "b"], "resource/name form"),
        (["deploy", "a", "--at", "1h", "--event", "3"], "choose one of"),
        (["deploy", "--event", "3"], "--event takes one object"),
        (["deploy", "a", "--fields", "--user", "bob"], "use the whole history"),
        (["deploy", "a", "--fields", "-A"], "-n, not -A"),
    ],
)
def test_bad_usage_is_one_line_and_exit_2(blame, args: list[str], fragment: str) -> None:
    one_error_line(blame(*args), 2, fragment)


def test_unknown_type_exits_3(blame) -> None:
    one_error_line(blame("gizmos", "-n", "team-a"), 3, 'unknown resource type "gizmos"')


def test_never_recorded_exits_4(blame) -> None:
    one_error_line(
        blame("deploy", "nope", "-n", "team-a"),
        4,
        'deployments.apps "nope" has no recorded history in namespace "team-a"',
    )
    one_error_line(blame("deploy", "nope", "-n", "team-a", "--fields"), 4, "no recorded history")
    one_error_line(blame("--event", "999999"), 4, "event 999999 is not recorded")
    one_error_line(
        blame("deploy", "nginx", "-n", "team-a", "--at", "2020-01-01T00:00:00Z"),
        4,
        "was not recorded yet at",
    )


def test_unreachable_collector_exits_5(tmp_path: Path) -> None:
    from tests.support.collector import free_port

    result = subprocess.run(
        [str(KUBECTL_BLAME), "deploy", "--url", f"http://127.0.0.1:{free_port()}"],
        capture_output=True,
        text=True,
        env=blame_env(tmp_path),
        timeout=60,
    )
    one_error_line(result, 5, "cannot reach the collector")


def test_help_has_examples(blame) -> None:
    result = blame("--help")
    assert result.returncode == 0
    assert "kubectl blame deployment nginx -n team-a --fields" in result.stdout
    assert "--collector-namespace" in result.stdout
    for code, meaning in MEANINGS.items():
        assert f"{code.value:>3}  {meaning}\n" in result.stdout


def test_json_carries_the_marks_of_an_incomplete_history(blame_with_holes) -> None:
    result = blame_with_holes("deploy/nginx", "-n", "team-a", "--user", "alice", "-o", "json")
    assert result.returncode == 0, result.stderr
    body = json.loads(result.stdout)
    items = body["items"] if isinstance(body, dict) else body
    gaps = [e for e in items if e["continuity"] == "gap"]
    assert [e["unrecordedChanges"] for e in gaps] == [
        [{"op": "add", "path": "/metadata/labels/owner"}]
    ]
    assert {e["applied"] for e in items} <= {True, None}


def test_field_blame_credits_a_race_to_its_winner_whichever_was_recorded_first(
    blame_with_race, fed_with_race: Fed
) -> None:
    # The loser (nginx:2) was recorded after alice's set image, which won the race.
    result = blame_with_race("deploy", "nginx", "-n", "team-a", "--fields", "-o", "json")
    assert result.returncode == 0, result.stderr
    body = json.loads(result.stdout)
    image = next(line for line in body["lines"] if line["line"].strip() == "- image: nginx:1.27")
    assert (image["event"], image["user"]) == (fed_with_race.ids[RACED], "alice")

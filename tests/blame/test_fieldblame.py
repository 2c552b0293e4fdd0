"""Field blame on the recorded history of the team-a/nginx Deployment.

alice created it (045), scaled it to 3 through the scale subresource (059), set its image
(071) and patched three labels (081 strategic, 082 merge, 084 JSON patch); the deployment
controller wrote its status in between, and alice deleted it in the foreground (193).
"""

from __future__ import annotations

from dataclasses import replace

from logistis.client.fieldblame import BlamedLine, ItemKey, changed_paths, identity, replay
from tests.blame.conftest import fixture_event, nginx_history


def line(lines: list[BlamedLine], text: str) -> BlamedLine:
    matches = [each for each in lines if each.text.strip() == text]
    assert len(matches) == 1, f"{text!r} in {[each.text for each in lines]}"
    return matches[0]


def credit(lines: list[BlamedLine], text: str) -> tuple[int, str, str] | None:
    author = line(lines, text).author
    return (author.event_id, author.user, author.via) if author else None


def before_delete() -> list[BlamedLine]:
    return replay(e for e in nginx_history() if e.id < 193).lines()


def test_replicas_are_blamed_on_who_scaled_not_on_the_controller() -> None:
    assert credit(before_delete(), "replicas: 3") == (59, "alice", "kubectl (scale)")


def test_image_is_blamed_on_set_image() -> None:
    assert credit(before_delete(), "- image: nginx:1.27") == (71, "alice", "kubectl-set")


def test_each_label_is_blamed_on_its_own_patch() -> None:
    lines = before_delete()
    assert credit(lines, "tier: web") == (81, "alice", "kubectl-patch")
    assert credit(lines, "owner: alice") == (82, "alice", "kubectl-patch")
    assert credit(lines, "env: dev") == (84, "alice", "kubectl-patch")


def test_lines_unchanged_since_creation_show_the_creator() -> None:
    by_path = {each.path: each.author for each in before_delete()}
    for path in (
        ("metadata", "name"),
        ("metadata", "labels", "app"),
        ("spec",),
        ("spec", "strategy", "type"),
        ("spec", "template", "spec", "containers", 0, "name"),
    ):
        author = by_path[path]
        assert author is not None, path
        assert (author.event_id, author.user, author.manager) == (45, "alice", "kubectl-create")


def test_status_is_blamed_on_the_controller_with_the_manager_from_managed_fields() -> None:
    lines = before_delete()
    observed = line(lines, "observedGeneration: 3").author
    assert observed.user == "system:serviceaccount:kube-system:deployment-controller"
    assert observed.via == "kube-controller-manager (status)"
    assert observed.event_id == 78


def test_the_history_as_of_an_event_is_that_version() -> None:
    state = replay(e for e in nginx_history() if e.id <= 59)
    assert state.object["spec"]["replicas"] == 3, "the scale is applied to the last full object"
    assert state.object["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.25"
    assert state.creator.event_id == 45
    assert state.last.event_id == 59


def test_a_deleted_object_keeps_its_last_version_and_its_deleter() -> None:
    state = replay(nginx_history())
    assert state.deleted_by is not None
    assert (state.deleted_by.event_id, state.deleted_by.user) == (
        193,
        "alice",
    )
    lines = state.lines()
    assert credit(lines, "replicas: 3") == (59, "alice", "kubectl (scale)")
    deletion = line(lines, "deletionGracePeriodSeconds: 0").author
    assert (deletion.event_id, deletion.user, deletion.via) == (193, "alice", "-")


def test_history_that_starts_after_creation_leaves_older_lines_unknown() -> None:
    state = replay(e for e in nginx_history() if e.id >= 71)
    lines = state.lines()
    assert credit(lines, "- image: nginx:1.27") == (71, "alice", "kubectl-set")
    assert line(lines, "replicas: 3").author is None
    assert state.creator is None


def test_noise_lines_appear_only_when_asked_for() -> None:
    state = replay(e for e in nginx_history() if e.id < 193)
    assert not any("managedFields" in each.text for each in state.lines())
    assert any("managedFields" in each.text for each in state.lines(show_noise=True))


def test_list_items_are_followed_by_their_merge_key() -> None:
    old = {"spec": {"containers": [{"name": "app", "image": "a:1"}]}}
    new = {
        "spec": {
            "containers": [{"name": "sidecar", "image": "s:1"}, {"name": "app", "image": "a:1"}]
        }
    }
    changed = changed_paths(old, new)
    assert ("spec", "containers", ItemKey("name", "sidecar"), "image") in changed
    assert not any(ItemKey("name", "app") in path for path in changed)
    assert identity(new, ("spec", "containers", 1, "image")) == (
        "spec",
        "containers",
        ItemKey("name", "app"),
        "image",
    )


def test_writes_that_are_not_versions_of_the_object_are_skipped() -> None:
    # A TokenRequest filed under its ServiceAccount is no version of the ServiceAccount.
    account = fixture_event(16, kind="ServiceAccount")
    token = fixture_event(46, kind="ServiceAccount")
    state = replay([account, token])
    assert state.object == account.object


def test_a_field_changed_in_a_gap_is_credited_to_unrecorded_not_the_last_writer() -> None:
    # The collector missed 082 (alice's `owner` label): 084 comes after a gap.
    history = [
        replace(e, continuity="gap") if e.id == 84 else e
        for e in nginx_history()
        if e.id not in (82, 193) and e.id < 193
    ]
    lines = replay(history).lines()
    owner = line(lines, "owner: alice").author
    assert owner is not None
    assert (owner.unrecorded, owner.user, owner.event_id) == (True, "unrecorded", 84)
    assert credit(lines, "env: dev") == (84, "alice", "kubectl-patch")


def test_a_write_that_never_landed_is_credited_nothing() -> None:
    history = [replace(e, applied=False) if e.id == 84 else e for e in nginx_history()]
    state = replay(e for e in history if e.id <= 84)
    assert all(each.text.strip() != "env: dev" for each in state.lines())
    assert state.last is not None
    assert state.last.event_id == 82
